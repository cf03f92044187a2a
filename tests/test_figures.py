"""Tests for tcpscope.figures on synthetic captures that follow docs/design.md."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from tcpscope.figures import SEGMENT_COLUMNS, build_figures, figure_names, render_capture_figures
from tcpscope.figures.style import PNG_WIDTH, figure_height, row_weights
from tcpscope.tcpstate import CLASS_NAMES

EPOCH_NS = 1_780_000_000 * 1_000_000_000
DEVICE = "192.168.2.2"
SERVER = "203.0.113.10"
MSS = 1448


# --------------------------------------------------------------------------- synthetic capture


def _direction(
    *,
    flow_id: int,
    sender_is_client: bool,
    t_first: float,
    n_seg: int,
    gap: float,
    ack_delay: float,
    rwnd: int,
    retx: np.ndarray,
    rto: float,
    reorder: np.ndarray,
    ports: tuple[int, int],
) -> tuple[dict, dict]:
    """Data rows of one sender and the receiver's ACK rows, as dicts of numpy arrays."""
    i = np.arange(n_seg)
    rel_seq = 1 + i.astype(np.int64) * MSS
    t = t_first + i * gap
    cls = np.full(n_seg, "new", dtype=object)
    # reordering: segment j arrives just after j+1
    t[reorder] = t[reorder + 1] + gap * 0.3
    cls[reorder] = "reordered"
    # retransmissions: original copy 'lost' after the capture point, resent one RTO later
    rt_t = t[retx] + rto
    d_t = np.concatenate([t, rt_t])
    d_seq = np.concatenate([rel_seq, rel_seq[retx]])
    d_cls = np.concatenate([cls, np.full(len(retx), "retransmission", dtype=object)])
    d_len = np.full(len(d_t), MSS, dtype=np.int64)
    # receiver ACKs every data segment; cumulative ACK stuck at a hole until its retransmission
    a_t = d_t + ack_delay
    a_ack = d_seq + d_len
    order = np.argsort(a_t, kind="stable")
    a_t, a_ack = a_t[order], np.maximum.accumulate(a_ack[order])
    starts, ends, hole = t[retx] + ack_delay, rt_t + ack_delay, rel_seq[retx]
    if len(retx):  # holes all last one RTO, so the active ones at time a are [first not ended, last started]
        first = np.searchsorted(ends, a_t, side="right")
        last = np.searchsorted(starts, a_t, side="right")
        inside = first < last
        a_ack = np.where(inside, np.minimum(a_ack, hole[np.clip(first, 0, len(retx) - 1)]), a_ack)
    # in flight after each data segment: its end minus the last ACK seen before it
    d_order = np.argsort(d_t, kind="stable")
    d_t, d_seq, d_cls, d_len = d_t[d_order], d_seq[d_order], d_cls[d_order], d_len[d_order]
    seen = np.searchsorted(a_t, d_t, side="right") - 1
    last_ack = np.where(seen >= 0, a_ack[np.clip(seen, 0, None)], 1)
    inflight = np.maximum(np.maximum.accumulate(d_seq + d_len) - last_ack, 0)
    sport, dport = ports if sender_is_client else ports[::-1]
    data = {
        "t": d_t,
        "flow_id": flow_id,
        "from_client": sender_is_client,
        "rel_seq": d_seq,
        "len": d_len,
        "rel_ack": np.ones(len(d_t), dtype=np.int64),
        "flags": 0x18,
        "win_bytes": 65535,
        "seg_class": d_cls,
        "inflight": inflight,
        "sport": sport,
        "dport": dport,
    }
    acks = {
        "t": a_t,
        "flow_id": flow_id,
        "from_client": not sender_is_client,
        "rel_seq": np.ones(len(a_t), dtype=np.int64),
        "len": np.zeros(len(a_t), dtype=np.int64),
        "rel_ack": a_ack,
        "flags": 0x10,
        "win_bytes": rwnd,
        "seg_class": None,
        "inflight": None,
        "sport": dport,
        "dport": sport,
    }
    return data, acks


def _handshake(flow_id: int, t0: float, rtt: float, ports: tuple[int, int]) -> list[dict]:
    """SYN, SYN-ACK, ACK rows (client side capture)."""
    c, s = ports
    mk = lambda dt, fc, flags, ack: {  # noqa: E731
        "t": np.array([t0 + dt]),
        "flow_id": flow_id,
        "from_client": fc,
        "rel_seq": np.array([0 if flags & 2 else 1]),
        "len": np.array([0]),
        "rel_ack": np.array([ack]),
        "flags": flags,
        "win_bytes": 65535,
        "seg_class": None,
        "inflight": None,
        "sport": c if fc else s,
        "dport": s if fc else c,
    }
    return [mk(0.0, True, 0x02, None), mk(rtt, False, 0x12, 1), mk(rtt + 0.0001, True, 0x10, 1)]


def _to_frame(part: dict) -> pl.DataFrame:
    """One dict of arrays/scalars -> frame with the working columns."""
    n = len(part["t"])
    cols = {}
    for k, v in part.items():
        cols[k] = v if isinstance(v, np.ndarray) else [v] * n
    return pl.DataFrame(
        cols, schema_overrides={"rel_ack": pl.Int64, "inflight": pl.Int64, "seg_class": pl.Utf8}
    )


def make_capture(
    n_up: int = 400, n_down: int = 600, n_retx: int = 4, n_reorder: int = 3, seed: int = 1
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Plausible 2-flow capture: upload (flow 0) with retransmissions, download (flow 1) with
    reordering, overlapping in time, the download starting 0.35 s after the capture starts."""
    rng = np.random.default_rng(seed)
    rtt = 0.040
    up_ports, down_ports = (53671, 443), (53680, 443)
    retx = np.sort(rng.choice(np.arange(10, n_up - 10), size=min(n_retx, max(n_up - 20, 0)), replace=False))
    reo = np.sort(
        rng.choice(
            np.arange(10, n_down - 10, 4), size=min(n_reorder, max((n_down - 20) // 4, 0)), replace=False
        )
    )
    parts = _handshake(0, 0.0, rtt, up_ports) + _handshake(1, 0.35, rtt, down_ports)
    up_data, up_acks = _direction(
        flow_id=0,
        sender_is_client=True,
        t_first=rtt + 0.0002,
        n_seg=n_up,
        gap=0.0012,
        ack_delay=rtt,
        rwnd=262_144,
        retx=retx,
        rto=0.2,
        reorder=np.array([], dtype=np.int64),
        ports=up_ports,
    )
    down_data, down_acks = _direction(
        flow_id=1,
        sender_is_client=False,
        t_first=0.35 + rtt + 0.001,
        n_seg=n_down,
        gap=0.0007,
        ack_delay=0.0002,
        rwnd=131_072,
        retx=np.array([], dtype=np.int64),
        rto=0.2,
        reorder=reo,
        ports=down_ports,
    )
    parts += [up_data, up_acks, down_data, down_acks]
    work = pl.concat([_to_frame(p) for p in parts], how="vertical_relaxed").sort("t", maintain_order=True)
    return _complete_segments(work), None  # type: ignore[return-value]


def _complete_segments(w: pl.DataFrame) -> pl.DataFrame:
    """Add every design.md `segments` column with plausible values and the documented dtypes."""
    n = w.height
    up = pl.col("from_client")
    fid = pl.col("flow_id").cast(pl.Int64)
    client_isn, server_isn = 1_000_000_000 + 7919 * fid, 3_000_000_000 + 104729 * fid
    isn = pl.when(up).then(client_isn).otherwise(server_isn)
    peer_isn = pl.when(up).then(server_isn).otherwise(client_isn)
    w = w.with_columns(
        pl.when(pl.col("rel_ack").is_null())
        .then(pl.col("flags"))
        .otherwise(pl.col("flags") | 0x10)
        .alias("flags"),
    )
    empty_list = pl.Series([[]] * n, dtype=pl.List(pl.UInt32))
    return w.select(
        pl.int_range(1, n + 1).cast(pl.UInt32).alias("frame"),
        (pl.lit(EPOCH_NS) + (pl.col("t") * 1e9).round().cast(pl.Int64)).alias("ts_ns"),
        pl.lit(0, pl.UInt16).alias("iface"),
        pl.lit(1, pl.UInt16).alias("linktype"),
        pl.lit(None, pl.UInt16).alias("vlan"),
        pl.lit(4, pl.UInt8).alias("ip_version"),
        pl.when(up).then(pl.lit(DEVICE)).otherwise(pl.lit(SERVER)).alias("src"),
        pl.when(up).then(pl.lit(SERVER)).otherwise(pl.lit(DEVICE)).alias("dst"),
        pl.col("sport").cast(pl.UInt16),
        pl.col("dport").cast(pl.UInt16),
        ((isn + pl.col("rel_seq")) % (1 << 32)).cast(pl.UInt32).alias("seq"),
        ((peer_isn + pl.col("rel_ack").fill_null(0)) % (1 << 32)).cast(pl.UInt32).alias("ack"),
        pl.col("flags").cast(pl.UInt16),
        (pl.col("win_bytes") // 128).clip(0, 65535).cast(pl.UInt16).alias("win"),
        pl.col("len").cast(pl.UInt32),
        (pl.int_range(0, n) % 65536).cast(pl.UInt32).alias("ip_id"),
        pl.lit(64, pl.UInt8).alias("ttl"),
        pl.when(pl.col("flags") & 2 > 0).then(pl.lit(1460)).otherwise(None).cast(pl.UInt16).alias("opt_mss"),
        pl.when(pl.col("flags") & 2 > 0).then(pl.lit(7)).otherwise(None).cast(pl.UInt8).alias("opt_wscale"),
        (pl.col("flags") & 2 > 0).alias("opt_sackok"),
        pl.lit(None, pl.UInt32).alias("opt_tsval"),
        pl.lit(None, pl.UInt32).alias("opt_tsecr"),
        pl.lit(empty_list).alias("sack_left"),
        pl.lit(empty_list).alias("sack_right"),
        pl.lit(True).alias("opts_complete"),
        pl.col("flow_id").cast(pl.UInt32),
        up.alias("from_client"),
        up.alias("from_device"),
        pl.col("t"),
        pl.col("rel_seq").cast(pl.Int64),
        pl.col("rel_ack").cast(pl.Int64),
        pl.col("win_bytes").cast(pl.Int64),
        pl.col("seg_class"),
        pl.col("inflight").cast(pl.Int64),
        pl.lit(None, pl.Float64).alias("rtt_ms"),
    )


CLASSES = list(CLASS_NAMES)


def make_flows(seg: pl.DataFrame) -> pl.DataFrame:
    """The design.md `flows` table (one row per connection and sending side) derived from segments."""
    per = seg.group_by("flow_id", "from_client").agg(
        pl.len().alias("packets"),
        (pl.col("len") > 0).sum().alias("data_packets"),
        pl.col("len").filter(pl.col("seg_class") != "retransmission").sum().cast(pl.Int64).alias("bytes"),
        pl.col("len").sum().cast(pl.Int64).alias("bytes_sent"),
        *[(pl.col("seg_class") == c).sum().cast(pl.UInt32).alias(f"n_{c}") for c in CLASSES],
        pl.col("src").first(),
        pl.col("sport").first(),
        pl.col("dst").first(),
        pl.col("dport").first(),
    )
    conn = seg.group_by("flow_id").agg(pl.col("t").min().alias("start_t"), pl.col("t").max().alias("end_t"))
    return (
        per.join(conn, on="flow_id")
        .with_columns(
            pl.when(pl.col("from_client")).then(pl.col("src")).otherwise(pl.col("dst")).alias("client"),
            pl.when(pl.col("from_client"))
            .then(pl.col("sport"))
            .otherwise(pl.col("dport"))
            .alias("client_port"),
            pl.when(pl.col("from_client")).then(pl.col("dst")).otherwise(pl.col("src")).alias("server"),
            pl.when(pl.col("from_client"))
            .then(pl.col("dport"))
            .otherwise(pl.col("sport"))
            .alias("server_port"),
            pl.lit(None, pl.UInt16).alias("vlan"),
            (pl.col("end_t") - pl.col("start_t")).alias("duration_s"),
        )
        .with_columns(
            pl.lit(True).alias("handshake_seen"),
            pl.lit(40.0).alias("handshake_rtt_ms"),
            pl.lit("client").alias("vantage"),
            pl.lit(DEVICE).alias("device"),
            pl.when(pl.col("flow_id") == 0).then(pl.lit("up")).otherwise(pl.lit("down")).alias("direction"),
            pl.when(pl.col("from_client")).then(pl.lit("client")).otherwise(pl.lit("server")).alias("sender"),
            pl.col("from_client").alias("sender_is_device"),
            (pl.col("bytes") * 8 / pl.col("duration_s")).alias("throughput_bps"),
            (pl.col("n_retransmission") / pl.col("data_packets").clip(1)).alias("loss_rate"),
            (pl.col("n_reordered") / pl.col("data_packets").clip(1)).alias("reorder_rate"),
        )
        .drop("src", "sport", "dst", "dport", "from_client")
        .sort("flow_id", "sender")
    )


def capture(**kw: int) -> tuple[pl.DataFrame, pl.DataFrame]:
    """segments and flows of a synthetic capture."""
    seg, _ = make_capture(**kw)
    return seg, make_flows(seg)


# --------------------------------------------------------------------------- helpers


def png_size(path: Path) -> tuple[int, int]:
    """(width, height) from a PNG header; fails if the file is not a PNG."""
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    assert head[12:16] == b"IHDR"
    return struct.unpack(">II", head[16:24])


def flow_traces(fig, label_start: str) -> list:
    """Traces whose legendgroup (flow label) starts with label_start."""
    return [tr for tr in fig.data if (tr.legendgroup or "").startswith(label_start)]


def n_points(tr) -> int:
    """Number of points of a trace."""
    return 0 if tr.x is None else len(tr.x)


def n_bars(tr) -> int:
    """Number of segment bars: markers with error bars, or (t,lo),(t,hi),NaN triples of a path."""
    x = np.asarray(tr.x, dtype=float)
    return len(x) if tr.mode == "markers" else int(np.isfinite(x).sum() // 2)


def bar_top(tr) -> float:
    """Highest sequence drawn by a bar trace."""
    y = np.asarray(tr.y, dtype=float)
    if tr.error_y.array is not None:
        y = y + np.asarray(tr.error_y.array, dtype=float)
    return float(np.nanmax(y))


# --------------------------------------------------------------------------- fast tests


def test_figure_names() -> None:
    assert figure_names() == ["timeseq", "inflight"]


@pytest.mark.parametrize("name", ["send_video", "receive_video", "download_moments"])
def test_segment_columns_are_all_the_figures_read(name: str) -> None:
    """The figure jobs read only SEGMENT_COLUMNS from segments.parquet: the figures built from
    them are the same as from the whole table."""
    from tcpscope.analysis import analyze
    from tcpscope.decode import decode_capture
    from tcpscope.stalls import detect_stalls

    pcap = Path(__file__).resolve().parents[1] / "pcap" / f"{name}.pcap"
    if not pcap.is_file():
        pytest.skip(f"bundled capture {pcap.name} not present")
    a = analyze(decode_capture(pcap).packets, device="192.168.2.2")
    st = detect_stalls(a.segments, a.flows)
    full = {k: f.to_json() for k, f in build_figures(a.segments, a.flows, name, png=True, stalls=st).items()}
    narrow = build_figures(a.segments.select(SEGMENT_COLUMNS), a.flows, name, png=True, stalls=st)
    assert {k: f.to_json() for k, f in narrow.items()} == full


def test_synthetic_capture_follows_schema() -> None:
    seg, flows = capture()
    for col, dtype in {
        "frame": pl.UInt32,
        "t": pl.Float64,
        "rel_seq": pl.Int64,
        "rel_ack": pl.Int64,
        "win_bytes": pl.Int64,
        "seg_class": pl.Utf8,
        "inflight": pl.Int64,
        "flow_id": pl.UInt32,
    }.items():
        assert seg.schema[col] == dtype
    assert seg["t"].min() == 0.0 and seg["t"].is_sorted()
    assert flows.height == 4 and set(flows["sender"]) == {"client", "server"}


def test_timeseq_real_time_axis_and_acks() -> None:
    seg, flows = capture()
    for png in (True, False):
        fig = build_figures(seg, flows, "cap", png=png)["timeseq"]
        # flow 1 (download) starts 0.35 s into the capture: its data must not be re-based to 0
        first_data_t = seg.filter((pl.col("flow_id") == 1) & pl.col("seg_class").is_not_null())["t"].min()
        down = [tr for tr in flow_traces(fig, "flow 1 down") if tr.name == "new data"]
        assert len(down) == 1
        assert float(np.nanmin(down[0].x)) == pytest.approx(first_data_t)
        assert first_data_t > 0.3
        # one ACK trace per direction with data, and the labels carry the endpoints
        for label in (
            "flow 0 up 192.168.2.2:53671 -> 203.0.113.10:443",
            "flow 1 down 203.0.113.10:443 -> 192.168.2.2:53680",
        ):
            acks = [tr for tr in flow_traces(fig, label) if tr.name == "ACK"]
            assert len(acks) == 1 and n_points(acks[0]) > 0
        # ACK line of the upload is in the upload's sequence space: never above the data
        up_new = [tr for tr in flow_traces(fig, "flow 0 up") if tr.name == "new data"][0]
        up_ack = [tr for tr in flow_traces(fig, "flow 0 up") if tr.name == "ACK"][0]
        assert np.max(up_ack.y) <= bar_top(up_new)


def test_directions_without_data_are_skipped() -> None:
    seg, flows = capture()
    fig = build_figures(seg, flows, "cap", png=True)["timeseq"]
    groups = {tr.legendgroup for tr in fig.data}
    assert groups == {
        "flow 0 up 192.168.2.2:53671 -> 203.0.113.10:443",
        "flow 1 down 203.0.113.10:443 -> 192.168.2.2:53680",
    }


def test_marks_of_small_capture_all_present() -> None:
    seg, flows = capture(n_retx=4, n_reorder=3)
    for png in (True, False):
        fig = build_figures(seg, flows, "cap", png=png)["timeseq"]
        assert sum(n_points(tr) for tr in fig.data if tr.name == "retransmission") == 4
        assert sum(n_points(tr) for tr in fig.data if tr.name == "reordered") == 3


def test_large_capture_decimates_new_but_keeps_every_retransmission() -> None:
    seg, flows = capture(n_up=300_000, n_down=200_000, n_retx=3000, n_reorder=1500)
    assert seg.filter(pl.col("seg_class").is_not_null()).height >= 500_000
    n_retx = seg.filter(pl.col("seg_class") == "retransmission").height
    n_reo = seg.filter(pl.col("seg_class") == "reordered").height
    for png in (True, False):
        fig = build_figures(seg, flows, "cap", png=png)["timeseq"]
        retx = [tr for tr in fig.data if tr.name == "retransmission"]
        assert sum(n_points(tr) for tr in retx) == n_retx
        assert sorted(np.concatenate([tr.customdata[:, 0] for tr in retx]).tolist()) == sorted(
            seg.filter(pl.col("seg_class") == "retransmission")["frame"].cast(pl.Float64).to_list()
        )
        assert sum(n_points(tr) for tr in fig.data if tr.name == "reordered") == n_reo
        new_bars = sum(n_bars(tr) for tr in fig.data if tr.name == "new data")
        assert new_bars <= 2 * (2000 if png else 20000)  # one bar per time column and direction
    # HTML uses WebGL for the large traces, PNG never does
    html_fig = build_figures(seg, flows, "cap", png=False)["timeseq"]
    assert any(tr.type == "scattergl" for tr in html_fig.data)
    png_fig = build_figures(seg, flows, "cap", png=True)["timeseq"]
    assert all(tr.type == "scatter" for tr in png_fig.data)


def test_huge_number_of_marks_is_decimated_but_never_to_zero_per_column() -> None:
    from tcpscope.figures import decimate

    rng = np.random.default_rng(3)
    n = 200_000
    t = np.sort(rng.uniform(0, 100, n))
    df = pl.DataFrame(
        {"t": t, "rel_seq": rng.integers(0, 10**9, n), "len": np.full(n, 1448), "frame": np.arange(1, n + 1)}
    )
    b, binned = decimate.marks(df, 100.0, 2000, 20_000)
    assert binned and b.height <= 2 * 2000
    cols_with_marks = np.unique(np.minimum((t * 2000 / 100).astype(int), 1999))
    cols_drawn = np.unique(np.minimum((b["t"].to_numpy() * 2000 / 100).astype(int), 1999))
    assert np.array_equal(cols_with_marks, cols_drawn)
    # kept marks are real segments (their frames exist) and include the extremes of the capture
    assert set(b["frame_first"].cast(pl.Int64).to_list()) <= set(range(1, n + 1))
    assert b["lo"].min() == df["rel_seq"].min() and b["lo"].max() == df["rel_seq"].max()
    nb, nbinned = decimate.bars(df, 100.0, 2000, 20_000)
    assert nbinned and nb["n"].sum() == n and nb.height == len(cols_with_marks)


def test_png_with_too_many_marks_keeps_one_per_busy_column() -> None:
    seg, flows = capture(n_up=200_000, n_down=1000, n_retx=30_000, n_reorder=3)
    fig = build_figures(seg, flows, "cap", png=True)["timeseq"]
    retx = [tr for tr in fig.data if tr.name == "retransmission"]
    assert len(retx) == 1
    drawn = np.asarray(retx[0].x, dtype=float)
    assert 0 < len(drawn) < 30_000  # decimated ...
    t_end = seg["t"].max()
    col = lambda t: np.minimum((np.asarray(t) * 2000 / t_end).astype(int), 1999)  # noqa: E731
    truth = seg.filter(pl.col("seg_class") == "retransmission")["t"].to_numpy()
    assert np.array_equal(np.unique(col(truth)), np.unique(col(drawn)))  # ... but no column lost
    assert sum(n_points(tr) for tr in fig.data if tr.name == "reordered") == 3  # small traces stay raw
    assert "no column loses its marks" in fig.layout.title.subtitle.text


def test_inflight_has_window_per_direction() -> None:
    seg, flows = capture()
    fig = build_figures(seg, flows, "cap", png=True)["inflight"]
    for label in ("flow 0 up", "flow 1 down"):
        names = {tr.name for tr in flow_traces(fig, label)}
        assert names == {"bytes in flight", "receiver window (rwnd)"}
    # without a handshake the window scale is unknown: the window traces say so
    no_hs = flows.with_columns((pl.col("flow_id") != 1).alias("handshake_seen"))
    for name, fig in build_figures(seg, no_hs, "cap", png=True).items():
        rwnd = [tr.name for tr in flow_traces(fig, "flow 1 down") if "rwnd" in tr.name]
        assert rwnd and all("unscaled" in n for n in rwnd), name
        assert not any("unscaled" in (tr.name or "") for tr in flow_traces(fig, "flow 0 up"))


def test_more_than_ten_directions_shows_largest_and_says_so() -> None:
    seg, flows = capture()
    many = pl.concat([seg.with_columns((pl.col("flow_id") + 2 * k).cast(pl.UInt32)) for k in range(7)])
    fl = make_flows(many)
    fig = build_figures(many, fl, "cap", png=True)["timeseq"]
    assert len({tr.legendgroup for tr in fig.data}) == 10
    assert "10 of 14 flow directions" in fig.layout.title.subtitle.text


def test_rows_of_tiny_directions_are_half_height() -> None:
    seg, flows = capture()
    fig = build_figures(seg, flows, "cap", png=True)["timeseq"]
    assert fig.layout.height == figure_height([1.0, 1.0])
    # a 3-byte direction next to a big one gets a half-height row
    assert row_weights([1_000_000, 3]) == [1.0, 0.5]
    assert figure_height([1.0, 0.5]) < figure_height([1.0, 1.0])


def test_failed_png_render_leaves_no_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tcpscope.figures import output

    class NoBrowser:
        def __init__(self, **kw: object) -> None:
            pass

        async def __aenter__(self) -> None:
            raise RuntimeError("no chromium here")

        async def __aexit__(self, *exc: object) -> None:
            return None

    monkeypatch.setattr(output.kaleido, "Kaleido", NoBrowser)
    seg, flows = capture()
    with pytest.raises(RuntimeError, match="no chromium here"):
        render_capture_figures(seg, flows, tmp_path, "cap")
    assert list(tmp_path.iterdir()) == []  # HTML written to temp names was removed, nothing renamed


# --------------------------------------------------------------------------- kaleido (slow)


@pytest.mark.slow
def test_render_writes_png_and_offline_html(tmp_path: Path) -> None:
    seg, flows = capture()
    evil = "<script>alert(1)</script> capture"
    paths = render_capture_figures(seg, flows, tmp_path, evil)
    expected = {tmp_path / f"{n}.{ext}" for n in figure_names() for ext in ("png", "html")}
    assert set(paths) == expected
    assert all(p.is_file() for p in paths)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        p.name for p in expected
    )  # no temp files left
    for name in figure_names():
        assert png_size(tmp_path / f"{name}.png") == (PNG_WIDTH, figure_height([1.0, 1.0]))
        html = (tmp_path / f"{name}.html").read_text()
        assert '<script src="http' not in html and "<script src='http" not in html
        assert "<script>alert(1)</script>" not in html
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html  # escaped <title>
        assert "Plotly.newPlot" in html


@pytest.mark.slow
def test_render_empty_capture_says_no_data(tmp_path: Path) -> None:
    seg, _ = capture()
    empty = seg.head(0)
    paths = render_capture_figures(empty, pl.DataFrame(), tmp_path, "empty")
    assert len(paths) == 4
    for name in figure_names():
        assert png_size(tmp_path / f"{name}.png") == (PNG_WIDTH, figure_height([]))
        assert "no TCP data" in (tmp_path / f"{name}.html").read_text()


@pytest.mark.slow
def test_render_handshake_only_capture_says_no_data(tmp_path: Path) -> None:
    seg, flows = capture()
    hs = seg.filter(pl.col("seg_class").is_null() & (pl.col("len") == 0)).head(6)
    render_capture_figures(hs, flows, tmp_path, "handshake only")
    assert "no TCP data" in (tmp_path / "timeseq.html").read_text()


def test_marks_say_why_in_their_hover() -> None:
    """Each raw retransmission / reordering mark's hover names the rule that set its class
    (`seg_basis`), one of that class's bases."""
    from tcpscope.analysis import analyze
    from tcpscope.classes import BASIS_CLASSES
    from tcpscope.decode import decode_capture

    pcap = Path(__file__).resolve().parents[1] / "pcap" / "send_video.server.pcap"
    if not pcap.is_file():
        pytest.skip(f"bundled capture {pcap.name} not present")
    a = analyze(decode_capture(pcap).packets, device="192.168.2.2")
    fig = build_figures(a.segments, a.flows, "send_video.server", png=False)["timeseq"]
    from tcpscope.figures.style import CLASS_LABEL

    by_label = {label: cls for cls, label in CLASS_LABEL.items() if cls != "new"}
    seen = set()
    for tr in fig.data:
        cls = by_label.get(tr.name)
        if cls is None or tr.mode != "markers":
            continue
        assert "why: %{text}" in tr.hovertemplate and len(tr.text) == len(tr.x)
        assert all(cls in BASIS_CLASSES[w] for w in tr.text)
        seen.add(cls)
    assert {"retransmission", "reordered"} <= seen


def test_read_segments_takes_a_table_written_before_seg_basis(tmp_path: Path) -> None:
    """A segments table without `seg_basis` (an earlier tcpscope wrote it) still draws; one with
    it gives the figures that column too."""
    from tcpscope.figures import read_segments

    seg, _ = capture()
    assert "seg_basis" not in seg.columns
    seg.write_parquet(tmp_path / "old.parquet")
    assert read_segments(tmp_path / "old.parquet").columns == [c for c in SEGMENT_COLUMNS if c != "seg_basis"]
    seg.with_columns(seg_basis=pl.lit("above_highest")).write_parquet(tmp_path / "new.parquet")
    assert read_segments(tmp_path / "new.parquet").columns == list(SEGMENT_COLUMNS)
