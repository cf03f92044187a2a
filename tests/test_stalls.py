"""Stalls and their causes (docs/stalls.md): RFC 6298 estimator, detection threshold, the cause
rules on lab captures whose cause is known (tests/fixtures/stalls/, made by `tcpscope.lab`), the
per-flow summary, the pipeline output and the per-feature metric columns."""

from __future__ import annotations

import math
from pathlib import Path

import polars as pl
import pytest

from tcpscope import rto, stalls
from tcpscope.analysis import analyze
from tcpscope.decode import decode_capture
from tcpscope.metrics import capture_metrics, feature_metrics

ROOT = Path(__file__).resolve().parents[1]
FIX = ROOT / "tests" / "fixtures" / "stalls"
PCAP = ROOT / "pcap"
DEVICE = "192.168.2.2"


def _analyse(path: Path):
    an = analyze(decode_capture(path).packets, device=DEVICE)
    st = stalls.detect_stalls(an.segments, an.flows)
    return an, st


@pytest.fixture(scope="module")
def fixtures() -> dict[str, tuple]:
    return {n: _analyse(FIX / f"{n}.pcap") for n in ("stall_rto", "stall_zero_window", "stall_idle", "stall_tail_loss")}


def _truth_of(name: str, frames: pl.Series) -> list[str]:
    truth = pl.read_parquet(FIX / f"{name}.truth.parquet").select("frame", "truth")
    return pl.DataFrame({"frame": frames}).join(truth, on="frame", how="left")["truth"].to_list()


# ---- estimator ---------------------------------------------------------------------------------


def test_rfc6298_first_and_later_samples() -> None:
    nan = float("nan")
    s, v, r = rto.update(nan, nan, 0.1, rto.G, rto.MIN_RTO, rto.MAX_RTO)
    assert (s, v) == pytest.approx((0.1, 0.05)) and r == pytest.approx(0.3)  # 0.1 + 4 * 0.05
    s2, v2, r2 = rto.update(s, v, 0.3, rto.G, rto.MIN_RTO, rto.MAX_RTO)
    assert v2 == pytest.approx(0.75 * 0.05 + 0.25 * abs(0.1 - 0.3))  # RTTVAR uses the old SRTT
    assert s2 == pytest.approx(0.875 * 0.1 + 0.125 * 0.3)
    assert r2 == pytest.approx(s2 + 4 * v2)
    # the floor is Linux's 200 ms, not RFC 6298's 1 s; the ceiling 60 s
    assert rto.update(nan, nan, 0.01, rto.G, rto.MIN_RTO, rto.MAX_RTO)[2] == pytest.approx(0.2)
    assert rto.update(nan, nan, 30.0, rto.G, rto.MIN_RTO, rto.MAX_RTO)[2] == pytest.approx(60.0)
    # with RFC 6298's own floor
    assert rto.update(nan, nan, 0.01, rto.G, 1.0, rto.MAX_RTO)[2] == pytest.approx(1.0)


def test_rto_estimates_per_flow_and_side() -> None:
    seg = pl.DataFrame(
        {
            "flow_id": [0, 0, 0, 1, 1],
            "frame": [1, 2, 3, 4, 5],
            "from_client": [True, False, True, True, True],
            "t": [0.0, 0.1, 0.2, 0.0, 0.1],
            "rtt_ms": [None, 50.0, 100.0, None, 20.0],
        }
    )
    est = rto.rto_estimates(seg)
    got = {r["frame"]: r for r in est.iter_rows(named=True)}
    assert got[1]["srtt_ms"] is None and got[1]["rto_ms"] == pytest.approx(1000.0)  # initial 1 s
    assert got[2]["srtt_ms"] == pytest.approx(50.0)
    assert got[3]["srtt_ms"] == pytest.approx(100.0)  # the client side's own first sample
    assert got[4]["rto_ms"] == pytest.approx(1000.0)  # a new flow starts afresh
    assert got[5]["rto_ms"] == pytest.approx(200.0)  # 20 + 4 * 10 = 60 ms, floored


def _segments(rows: list[tuple]) -> pl.DataFrame:
    """Minimal segments: (t, from_client, len, flags, rel_seq, rel_ack, seg_class, rtt_ms)."""
    cols = list(zip(*rows))
    n = len(rows)
    return pl.DataFrame(
        {
            "flow_id": [0] * n,
            "frame": list(range(1, n + 1)),
            "t": cols[0],
            "from_client": cols[1],
            "len": cols[2],
            "flags": cols[3],
            "rel_seq": cols[4],
            "rel_ack": cols[5],
            "ack": [0] * n,
            "win_bytes": [65535] * n,
            "seg_class": cols[6],
            "rtt_ms": cols[7],
            "sack_right": [[] for _ in range(n)],
        },
        schema_overrides={"rtt_ms": pl.Float64, "sack_right": pl.List(pl.UInt32), "seg_class": pl.Utf8},
    )


def test_threshold_is_min_of_two_srtt_and_rto_and_one_second_before_samples() -> None:
    A, PA = 0x10, 0x18
    rows = [
        (0.0, True, 100, PA, 1, 1, "new", None),
        (0.9, False, 0, A, 1, 101, None, None),  # 0.9 s < 1 s: no sample yet, not a stall
        (0.95, True, 100, PA, 101, 1, "new", 100.0),  # SRTT 100 ms -> threshold min(200, 300) ms
        (1.0, False, 0, A, 1, 201, None, None),
        (1.19, True, 100, PA, 201, 1, "new", None),  # 190 ms: not a stall
        (1.25, False, 0, A, 1, 301, None, None),
        (1.50, True, 100, PA, 301, 1, "new", None),  # 250 ms > 200 ms: a stall
    ]
    st = stalls.detect_stalls(_segments(rows), pl.DataFrame())
    assert st["end_frame"].to_list() == [7]
    assert st["threshold_s"][0] == pytest.approx(0.2)
    assert st["start_t"][0] == pytest.approx(1.25) and st["duration_s"][0] == pytest.approx(0.25)
    assert st["end_sender"][0] == "client"
    assert st["cause"][0] == "client_idle"  # everything acknowledged, a new message from the client
    assert st.schema == pl.Schema(stalls.STALL_SCHEMA)


def test_floor_keeps_pauses_of_a_microsecond_path_out() -> None:
    """On a 20 us path 2 SRTT is 40 us: tapo's threshold alone counts every pause of the sender,
    the 40 ms floor (a delayed ACK's wait) only a real one; floor=0 gives tapo's threshold back."""
    A, PA = 0x10, 0x18
    rows = [
        (0.0, True, 1000, PA, 1, 1, "new", None),
        (0.00002, False, 0, A, 1, 1001, None, None),
        (0.00003, True, 1000, PA, 1001, 1, "new", 0.02),  # SRTT 20 us
        (0.00005, False, 0, A, 1, 2001, None, None),
        (0.002, True, 1000, PA, 2001, 1, "new", None),  # 2 ms pause: tapo's stall, not ours
        (0.00202, False, 0, A, 1, 3001, None, None),
        (0.3, True, 1000, PA, 3001, 1, "new", None),  # 300 ms: a stall either way
    ]
    st = stalls.detect_stalls(_segments(rows), pl.DataFrame())
    assert st["end_frame"].to_list() == [7]
    assert st["threshold_s"][0] == pytest.approx(stalls.STALL_FLOOR)
    tapo = stalls.detect_stalls(_segments(rows), pl.DataFrame(), floor=0.0)
    assert tapo["end_frame"].to_list() == [5, 7]
    assert tapo["threshold_s"][0] == pytest.approx(4e-5)


def test_empty_input() -> None:
    one = [(0.0, True, 100, 0x18, 1, 1, "new", None)]
    st = stalls.detect_stalls(_segments(one).clear(), pl.DataFrame())
    assert st.height == 0 and st.schema == pl.Schema(stalls.STALL_SCHEMA)


# ---- lab captures with a known cause -------------------------------------------------------------


def test_rto_after_burst_loss(fixtures) -> None:
    """A 700 ms upstream blackout mid-upload: the whole window is lost, the RTO re-send is lost
    too. The RTO stall is continuous loss, the backed-off one a double retransmission."""
    an, st = fixtures["stall_rto"]
    st = st.sort("start_t")
    causes = st["cause"].to_list()
    assert "continuous_loss" in causes and "double_retransmission" in causes
    rto_stalls = st.filter(pl.col("cause").is_in(["continuous_loss", "double_retransmission"]))
    assert set(rto_stalls["group"]) == {"network"}
    assert set(rto_stalls["end_sender"]) == {"client"}  # the phone's re-sends end them
    # each ends with a re-send of bytes the relay had dropped
    assert set(_truth_of("stall_rto", rto_stalls["end_frame"])) == {"retransmission"}
    # the backed-off stall is about twice the first RTO stall
    first, second = rto_stalls["duration_s"].to_list()[:2]
    assert 1.5 < second / first < 2.5
    assert st["duration_s"].sum() > 0.7


def test_zero_window(fixtures) -> None:
    """The phone stops reading for 1.5 s: window probes with backoff, then the window update."""
    an, st = fixtures["stall_zero_window"]
    assert st.height >= 2
    assert set(st["cause"]) == {"zero_window"}
    assert set(st["group"]) == {"client"}  # the receiver (the phone, the client) closed its window
    assert st["duration_s"].sum() == pytest.approx(1.4, abs=0.3)
    probes = an.segments.filter(pl.col("frame").is_in(st["end_frame"].implode()))
    assert "window_probe" in set(probes["seg_class"].drop_nulls()) or st["end_sender"].to_list()[-1] == "client"


def test_chat_idle(fixtures) -> None:
    """A TLS chat sending three messages 1.5 s and 2 s apart: two idle stalls of those lengths."""
    an, st = fixtures["stall_idle"]
    assert st["cause"].to_list() == ["client_idle", "client_idle"]
    assert st["duration_s"].to_list() == pytest.approx([1.5, 2.0], abs=0.1)
    assert st["end_sender"].to_list() == ["client", "client"]


def test_tail_loss(fixtures) -> None:
    """The last two segments of an upload, their loss probe and the first RTO re-send are lost."""
    an, st = fixtures["stall_tail_loss"]
    assert st.height >= 2
    assert set(st["cause"]) == {"tail_retransmission"}
    assert set(_truth_of("stall_tail_loss", st["end_frame"])) == {"retransmission"}
    # the re-sends are within 3 segments of the end of the data
    seg = an.segments.filter(pl.col("frame").is_in(st["end_frame"].implode()))
    end = an.segments.filter(pl.col("from_client") & (pl.col("len") > 0)).select((pl.col("rel_seq") + pl.col("len")).max()).item()
    assert (end - seg["rel_seq"]).max() <= 3 * 1448


# ---- bundled captures -----------------------------------------------------------------------------


def test_bundled_send_video_blackout_rto() -> None:
    an, st = _analyse(PCAP / "send_video.pcap")
    upload = an.flows.filter(pl.col("server_port") == 8080)["flow_id"][0]
    loss = st.filter((pl.col("flow_id") == upload) & (pl.col("group") == "network"))
    assert loss.height >= 1 and loss["duration_s"].max() > 0.5
    assert loss["cause"].is_in(["continuous_loss", "double_retransmission", "other_retransmission"]).all()


def test_bundled_receive_video_zero_window() -> None:
    """The phone stops reading for 1.5 s: its window stays under one segment for most of that
    (how long depends on when the buffer fills), and the zero-window stalls cover that time, less
    the gaps below the stall threshold between the sender's window probes."""
    an, st = _analyse(PCAP / "receive_video.pcap")
    mss = an.segments.filter(~pl.col("from_client"))["len"].max()
    acks = an.segments.filter(pl.col("from_client") & pl.col("win_bytes").is_not_null()).sort("t")
    closed = acks.with_columns(until=pl.col("t").shift(-1)).filter(pl.col("win_bytes") < mss)
    zero_s = (closed["until"] - closed["t"]).sum()  # time the phone offered less than a segment
    zw = st.filter(pl.col("cause") == "zero_window")
    assert 0.5 < zero_s < 1.6
    assert zw.height >= 1 and 0.8 * zero_s <= zw["duration_s"].sum() <= zero_s + 0.01


def test_bundled_chat_idle_gaps() -> None:
    _, st = _analyse(PCAP / "send_text.pcap")
    idle = st.filter(pl.col("cause") == "client_idle")
    # the script sleeps 2.5 s after every fifth message
    assert (idle["duration_s"] > 2.4).sum() >= 2


# ---- summary, pipeline, metrics ------------------------------------------------------------------


def test_summary_joined_into_flows(fixtures) -> None:
    an, st = fixtures["stall_idle"]
    flows = stalls.add_stall_summary(an.flows, st)
    assert flows.height == an.flows.height
    row = flows.filter(pl.col("flow_id") == 0).row(0, named=True)
    assert row["stalls"] == 2
    assert row["stall_time_s"] == pytest.approx(st["duration_s"].sum())
    assert row["stall_s_client_idle"] == pytest.approx(row["stall_time_s"])
    assert row["stall_ratio"] == pytest.approx(row["stall_time_s"] / row["duration_s"])
    assert 0 < row["stall_ratio"] <= 1
    assert sum(row[f"stall_s_{c}"] for c in stalls.CAUSES) == pytest.approx(row["stall_time_s"])


def test_pipeline_writes_stalls(tmp_path: Path) -> None:
    from tcpscope.pipeline import OUTPUTS, analyze_capture

    res = analyze_capture(FIX / "stall_zero_window.pcap", tmp_path, device=DEVICE, labels=False)
    assert "stalls.parquet" in OUTPUTS
    st = pl.read_parquet(tmp_path / "stalls.parquet")
    assert st.height >= 2 and st.schema == pl.Schema(stalls.STALL_SCHEMA)
    flows = pl.read_parquet(tmp_path / "flows.parquet")
    assert set(stalls.SUMMARY_COLUMNS) <= set(flows.columns)
    assert flows["stalls"].max() == st.height == res.flows["stalls"].max()


def test_feature_metrics_stall_columns(fixtures) -> None:
    rows = []
    for name in ("stall_idle", "stall_tail_loss"):
        an, st = fixtures[name]
        flows = stalls.add_stall_summary(an.flows, st)
        rows.append(capture_metrics(flows, name, "f", {"frames": 1, "tcp_packets": 1, "skipped": {}}))
    per = pl.concat(rows)
    feat = feature_metrics(per).row(0, named=True)
    assert feat["stalls"] == per["stalls"].sum()
    assert feat["stall_time_s"] == pytest.approx(per["stall_time_s"].sum())
    assert feat["stall_s_client_idle"] == pytest.approx(per["stall_s_client_idle"].sum())
    assert feat["stall_ratio"] == pytest.approx(per["stall_time_s"].sum() / per["duration_s"].sum())
    assert not math.isnan(feat["stall_s_tail_retransmission"]) and feat["stall_s_tail_retransmission"] > 0


def test_same_run_at_both_vantages() -> None:
    """send_picture captured at the phone and at the server: the same stalls, the same causes
    (the chat's idle gap), within a few ms; the upload's FIN re-sent after both FINs is no stall."""
    an_c, st_c = _analyse(PCAP / "send_picture.pcap")
    an_s, st_s = _analyse(PCAP / "send_picture.server.pcap")
    assert set(an_c.flows["vantage"]) == {"client"} and set(an_s.flows["vantage"]) == {"server"}
    assert st_c["cause"].to_list() == st_s["cause"].to_list()
    assert st_c["duration_s"].to_list() == pytest.approx(st_s["duration_s"].to_list(), abs=0.02)


def test_handshake_stalls() -> None:
    """A SYN re-sent after the initial 1 s RTO, then a SYN/ACK that took 1.2 s (no sample yet)."""
    S, SA, A = 0x02, 0x12, 0x10
    rows = [
        (0.0, True, 0, S, 0, None, None, None),
        (1.0 + 0.01, True, 0, S, 0, None, None, None),  # SYN again after 1 s
        (2.3, False, 0, SA, 0, 1, None, None),  # the SYN/ACK 1.29 s later
        (2.35, True, 0, A, 1, 1, None, None),
    ]
    st = stalls.detect_stalls(_segments(rows), pl.DataFrame())
    assert st["cause"].to_list() == ["other_retransmission", "packet_delay"]
    assert st["end_sender"].to_list() == ["client", "server"]


LOSS_CAUSES = {
    "tail_retransmission", "double_retransmission", "continuous_loss", "other_retransmission",
    "small_cwnd_retransmission", "small_rwnd_retransmission", "retrans_small_init_window",
}


@pytest.mark.parametrize(
    "pcap",
    [
        pytest.param(p, id=p.stem) for p in sorted(PCAP.glob("*.pcap")) + sorted(FIX.glob("*.pcap"))
    ],
)
def test_causes_agree_with_relay_truth(pcap: Path) -> None:
    """Every lab capture: a stall blamed on a loss ends with a true retransmission (or a re-sent
    FIN, which carries no data and has no truth row), one blamed on a spurious re-send with a true
    spurious retransmission, and idle / data-unavailable stalls with new data."""
    truth_path = (FIX if pcap.parent == FIX else ROOT / "tests" / "fixtures" / "truth") / f"{pcap.stem}.truth.parquet"
    _, st = _analyse(pcap)
    truth = pl.read_parquet(truth_path).select("frame", "truth")
    got = st.join(truth, left_on="end_frame", right_on="frame", how="left")
    for cause, label in got.select("cause", "truth").iter_rows():
        if cause in LOSS_CAUSES:
            assert label in ("retransmission", None), (cause, label)
        elif cause == "spurious_retransmission":
            assert label == "spurious_retransmission"
        elif cause in ("client_idle", "data_unavailable"):
            assert label in ("new", None)


def test_no_stall_after_close() -> None:
    """As tapo: once both sides sent a FIN (or an RST), a late re-sent FIN is not a stall."""
    _A, FA, PA = 0x10, 0x11, 0x18
    rows = [
        (0.0, True, 100, PA, 1, 1, "new", 50.0),
        (0.05, False, 0, FA, 1, 101, None, None),  # server FIN
        (0.06, True, 0, FA, 101, 2, None, None),  # client FIN
        (0.6, True, 0, FA, 101, 2, None, None),  # client FIN again (the last ACK was lost)
    ]
    assert stalls.detect_stalls(_segments(rows), pl.DataFrame()).height == 0
    before_close = rows[:2] + [(0.6, True, 0, FA, 101, 2, None, None)]  # only one FIN before the gap
    assert stalls.detect_stalls(_segments(before_close), pl.DataFrame()).height == 1


# ---- figures ---------------------------------------------------------------------------------------


def test_stall_layer_on_timeseq(fixtures) -> None:
    from tcpscope.figures import build_figures
    from tcpscope.figures.prep import select_directions
    from tcpscope.figures.stalls import CAUSE_COLOUR, add_stall_layer

    assert set(CAUSE_COLOUR) == set(stalls.CAUSES)
    an, st = fixtures["stall_rto"]
    sel = select_directions(an.segments, an.flows)
    plain = build_figures(an.segments, an.flows, "t", png=True, sel=sel)["timeseq"]
    fig = build_figures(an.segments, an.flows, "t", png=True, sel=sel, stalls=st)["timeseq"]
    rects = [s for s in fig.layout.shapes if s.type == "rect"]
    assert len(rects) - len([s for s in plain.layout.shapes if s.type == "rect"]) == st.height * len(sel.directions)
    assert {s.fillcolor for s in rects} >= {CAUSE_COLOUR[c] for c in st["cause"]}
    names = {t.name for t in fig.data if t.name and t.name.startswith("stall: ")}
    assert names == {f"stall: {c.replace('_', ' ')}" for c in st["cause"]}
    # no stalls, no change
    again = add_stall_layer(build_figures(an.segments, an.flows, "t", png=True, sel=sel)["timeseq"], st.clear(), sel)
    assert len(again.layout.shapes) == len(plain.layout.shapes) and len(again.data) == len(plain.data)


def test_stall_summary_figure(fixtures) -> None:
    from tcpscope.figures.stalls import CAUSE_LABEL, build_stall_summary

    rows = []
    for name in ("stall_idle", "stall_zero_window", "stall_rto"):
        an, st = fixtures[name]
        flows = stalls.add_stall_summary(an.flows, st)
        rows.append(capture_metrics(flows, name, name, {"frames": 1, "tcp_packets": 1, "skipped": {}}))
    feat = feature_metrics(pl.concat(rows))
    fig = build_stall_summary(feat)
    bars = {t.name: t for t in fig.data}
    assert set(bars) == {CAUSE_LABEL[c] for c in ("client_idle", "zero_window", "packet_delay", "continuous_loss",
                                                   "double_retransmission")}
    zw = bars[CAUSE_LABEL["zero_window"]]
    assert list(zw.y) == ["stall_idle", "stall_zero_window", "stall_rto"]
    assert zw.x[1] == pytest.approx(feat["stall_s_zero_window"][1]) and zw.x[0] == 0
    assert len(fig.layout.annotations) == 3
    # a metric table without stall columns gives a figure that says so
    assert build_stall_summary(feat.drop("stall_s_unknown")).layout.annotations[0].text.startswith("no stall")
