"""feature_metrics sums counts and recomputes rates; markdown escaping."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from tcpscope.metrics import (
    capture_metrics,
    feature_metrics,
    read_capture_metrics,
    to_markdown,
    write_markdown,
    write_tsv,
)

DEVICE = "10.0.0.2"
ZERO = dict(
    packets=0,
    data_packets=0,
    bytes=0,
    bytes_sent=0,
    throughput_bps=None,
    n_new=0,
    n_retransmission=0,
    n_spurious_retransmission=0,
    n_reordered=0,
    n_network_duplicate=0,
    n_keepalive=0,
    n_window_probe=0,
    loss_rate=None,
    reorder_rate=None,
    rtt_min_ms=None,
    rtt_median_ms=None,
    rtt_p95_ms=None,
    rtt_samples=0,
)


def side(flow_id, client, server, direction, sender, device_sends, syn, **counts):
    """One `flows` row (design.md), connection columns + one sending side."""
    row = dict(
        flow_id=flow_id,
        client=client,
        client_port=50000 + flow_id,
        server=server,
        server_port=443,
        vlan=None,
        start_t=0.0,
        end_t=3.0,
        duration_s=3.0,
        handshake_seen=True,
        handshake_rtt_ms=25.0,
        vantage="client",
        device=DEVICE,
        direction=direction,
        matched=counts.pop("matched", True),
        sender=sender,
        sender_is_device=device_sends,
        syn_mss=syn[0],
        syn_wscale=syn[1],
        syn_sackok=syn[2],
        syn_ts=syn[3],
    )
    row.update(ZERO)
    row.update(counts)
    return row


def frame(rows):
    return pl.DataFrame(
        rows,
        schema_overrides={
            "flow_id": pl.UInt32,
            "client_port": pl.UInt16,
            "server_port": pl.UInt16,
            "vlan": pl.UInt16,
            "packets": pl.UInt64,
            "syn_mss": pl.UInt16,
            "syn_wscale": pl.UInt8,
            "rtt_samples": pl.UInt32,
            "throughput_bps": pl.Float64,
            "loss_rate": pl.Float64,
            "reorder_rate": pl.Float64,
            "rtt_min_ms": pl.Float64,
            "rtt_median_ms": pl.Float64,
            "rtt_p95_ms": pl.Float64,
        },
    )


SYN_DEV = (1460, 5, True, True)
SYN_SRV = (1400, 7, True, False)

# capture a (upload): flow 0 is the device's upload; flow 1 does not involve the device
FLOWS_A = frame(
    [
        side(
            0,
            DEVICE,
            "1.2.3.4",
            "up",
            "client",
            True,
            SYN_DEV,
            packets=100,
            data_packets=90,
            bytes=100000,
            bytes_sent=110000,
            throughput_bps=800000.0,
            n_new=80,
            n_retransmission=5,
            n_spurious_retransmission=2,
            n_reordered=1,
            n_network_duplicate=1,
            n_keepalive=1,
            loss_rate=0.9,
            rtt_min_ms=30.0,
            rtt_median_ms=50.0,
            rtt_p95_ms=80.0,
            rtt_samples=40,
        ),
        side(0, DEVICE, "1.2.3.4", "up", "server", False, SYN_SRV, packets=60),
        side(1, "10.0.0.9", "5.6.7.8", "down", "client", False, SYN_SRV, packets=7),
        side(
            1,
            "10.0.0.9",
            "5.6.7.8",
            "down",
            "server",
            False,
            SYN_SRV,
            packets=9,
            data_packets=5,
            bytes=5000,
            n_new=5,
        ),
    ]
)
# capture b (upload)
FLOWS_B = frame(
    [
        side(
            0,
            DEVICE,
            "1.2.3.4",
            "up",
            "client",
            True,
            SYN_DEV,
            packets=50,
            data_packets=40,
            bytes=40000,
            bytes_sent=42000,
            throughput_bps=320000.0,
            n_new=38,
            n_retransmission=2,
            rtt_min_ms=40.0,
            rtt_median_ms=70.0,
            rtt_p95_ms=120.0,
            rtt_samples=10,
            duration_s=2.0,
        ),
        side(0, DEVICE, "1.2.3.4", "up", "server", False, SYN_SRV, packets=30),
    ]
)
# capture c (download): the server sends; the device's SYN options are on the other row
FLOWS_C = frame(
    [
        side(0, DEVICE, "9.9.9.9", "down", "client", True, SYN_DEV, packets=90),
        side(
            0,
            DEVICE,
            "9.9.9.9",
            "down",
            "server",
            False,
            SYN_SRV,
            packets=200,
            data_packets=180,
            bytes=250000,
            bytes_sent=260000,
            throughput_bps=1.0e6,
            n_new=170,
            n_retransmission=6,
            n_retransmission_inferred=4,
            n_spurious_retransmission=1,
            n_reordered=3,
            rtt_min_ms=10.0,
            rtt_median_ms=20.0,
            rtt_p95_ms=40.0,
            rtt_samples=60,
        ),
    ]
)
INFO = {"frames": 300, "tcp_packets": 290, "skipped": {"non_ip": 0}, "cut_off": False}
INFO_C = {
    "frames": 500,
    "tcp_packets": 495,
    "cut_off": False,
    "skipped": {"non_ip": 3, "truncated": 2},
}
INFO_D = {"frames": 10, "tcp_packets": 6, "cut_off": True, "skipped": {"non_tcp": 4}}


@pytest.fixture()
def per_capture() -> pl.DataFrame:
    return pl.concat(
        [
            capture_metrics(FLOWS_A, "a", "upload", INFO),
            capture_metrics(FLOWS_B, "b", "upload", INFO),
            capture_metrics(FLOWS_C, "c", "download", INFO_C),
            capture_metrics(FLOWS_C.clear(), "d", "download", INFO_D),
        ]
    )


def test_capture_metrics_keeps_the_data_side(per_capture: pl.DataFrame) -> None:
    a = per_capture.filter(pl.col("capture") == "a")
    assert a.height == 1  # flow 1 has no device; the server side of flow 0 carries no data
    r = a.row(0, named=True)
    assert (r["flow_id"], r["sender"], r["direction"]) == (0, "client", "up")
    assert r["counted_packets"] == 90 - 2 - 1 - 1  # minus spurious, network dup, keepalive
    assert r["loss_rate"] == pytest.approx(5 / 86)  # recomputed, not the frame's 0.9
    assert r["transfer_s"] == pytest.approx(1.0)
    c = per_capture.filter(pl.col("capture") == "c").row(0, named=True)
    assert (c["sender"], c["direction"], c["packets"]) == ("server", "down", 200)
    assert (c["n_retransmission"], c["n_retransmission_inferred"]) == (6, 4)
    assert r["n_retransmission_inferred"] is None  # flows written before seg_basis: not 0
    assert (c["syn_mss"], c["syn_wscale"], c["syn_ts"]) == (1460, 5, True)  # device's SYN
    assert (c["skipped_non_ip"], c["skipped_truncated"], c["skipped_non_tcp"]) == (3, 2, 0)
    d = per_capture.filter(pl.col("capture") == "d")
    assert d.height == 1 and d["flow_id"][0] is None and d["skipped_non_tcp"][0] == 4


def test_feature_metrics_sums_and_recomputes(per_capture: pl.DataFrame) -> None:
    fm = feature_metrics(per_capture)
    assert fm["feature"].to_list() == ["upload", "download"]
    up = fm.row(0, named=True)
    assert up["direction"] == "up"
    assert (up["captures"], up["flows"], up["packets"], up["data_packets"]) == (2, 2, 150, 130)
    assert (up["bytes"], up["counted_packets"]) == (140000, 86 + 40)
    assert (up["retransmissions"], up["spurious_retransmissions"], up["reordered"]) == (7, 2, 1)
    assert up["loss_rate"] == pytest.approx(7 / 126)
    assert up["loss_rate"] != pytest.approx((5 / 86 + 2 / 40) / 2)  # not an average of ratios
    assert up["reorder_rate"] == pytest.approx(1 / 126)
    assert up["throughput_bps"] == pytest.approx(140000 * 8 / 2.0)  # 1 s + 1 s transfer
    assert up["duration_s"] == pytest.approx(5.0)
    assert up["rtt_median_ms"] == 50.0  # 40 samples at 50 ms outweigh 10 at 70 ms
    assert up["rtt_p95_ms"] == 120.0  # max of the per-flow p95
    assert (up["rtt_min_ms"], up["rtt_samples"]) == (30.0, 50)
    assert (up["syn_mss"], up["syn_wscale"], up["syn_sackok"], up["syn_ts"]) == SYN_DEV
    assert (up["frames"], up["cut_off_captures"]) == (600, 0)

    down = fm.row(1, named=True)
    assert (down["direction"], down["captures"], down["flows"]) == ("down", 2, 1)
    assert (down["packets"], down["bytes"], down["counted_packets"]) == (200, 250000, 179)
    assert down["loss_rate"] == pytest.approx(6 / 179)
    assert (down["retransmissions"], down["retransmissions_inferred"]) == (6, 4)
    assert up["retransmissions_inferred"] is None  # its flows predate the count
    assert down["reorder_rate"] == pytest.approx(3 / 179)
    assert down["throughput_bps"] == pytest.approx(1.0e6)
    assert (down["syn_mss"], down["syn_wscale"]) == (1460, 5)
    assert (down["skipped_non_ip"], down["skipped_non_tcp"], down["skipped_truncated"]) == (3, 4, 2)
    assert (down["frames"], down["cut_off_captures"]) == (510, 1)


def test_tsv_round_trip(per_capture: pl.DataFrame, tmp_path: Path) -> None:
    write_tsv(per_capture, tmp_path / "m.tsv")
    back = read_capture_metrics(tmp_path / "m.tsv")
    assert back.schema == per_capture.schema
    assert feature_metrics(back).equals(feature_metrics(per_capture))


def test_markdown_escapes_pipes(tmp_path: Path) -> None:
    df = pl.DataFrame({"feature": ["send|recv", "plain"], "loss_rate": [1 / 3, None], "n": [1, 2]})
    md = to_markdown(df)
    lines = md.splitlines()
    assert lines[0] == "| feature | loss_rate | n |"
    assert lines[1] == "| --- | ---: | ---: |"
    assert lines[2] == "| send\\|recv | 0.333333 | 1 |"
    assert lines[3] == "| plain |  | 2 |"
    write_markdown(df, tmp_path / "m.md", title="a|b")
    assert (tmp_path / "m.md").read_text().startswith("# a\\|b\n\n| feature |")


def test_capture_metrics_keeps_only_the_configured_servers_flows() -> None:
    # the device talks to the feature's server (flow 0) and to another host (flow 1)
    other = [
        side(1, DEVICE, "8.8.8.8", "up", "client", True, SYN_DEV, packets=5, data_packets=5, n_new=5, matched=False),
        side(1, DEVICE, "8.8.8.8", "up", "server", False, SYN_SRV, packets=5, matched=False),
    ]
    flows = pl.concat([FLOWS_B, frame(other)])
    kept = capture_metrics(flows, "b", "upload", INFO)
    assert kept["flow_id"].to_list() == [0]
