"""`python -m tcpscope.lab explain`: a segment in its flow with the classes, the truth and the
packets the relay dropped before the capture point (tcpscope.lab.explain), on the committed
bundled captures and their relay logs."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from tcpscope.analysis import analyze
from tcpscope.decode import decode_capture
from tcpscope.lab import CLIENT_IP
from tcpscope.lab.__main__ import main as lab_main
from tcpscope.lab.explain import ExplainError, context

ROOT = Path(__file__).resolve().parents[1]
PCAP = ROOT / "pcap"
TRUTH = ROOT / "tests" / "fixtures" / "truth"
NAME = "send_picture.server"


@pytest.fixture(scope="module")
def parts() -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    segs = analyze(decode_capture(PCAP / f"{NAME}.pcap").packets, device=CLIENT_IP).segments
    return segs, pl.read_parquet(TRUTH / f"{NAME}.truth.parquet"), pl.read_parquet(TRUTH / "send_picture.relay.parquet")


def _first_drop(log: pl.DataFrame) -> dict:
    """The upload's first data packet the relay dropped (it never reached the server's capture)."""
    return log.filter((pl.col("dir") == "c2s") & (pl.col("action") == "drop") & (pl.col("len") > 0)).sort("idx").row(
        0, named=True)


def test_context_shows_the_dropped_packet_between_its_captured_neighbours(parts) -> None:
    segs, truth, log = parts
    drop = _first_drop(log)
    after = truth.filter(pl.col("ip_id") == drop["ip_id"] + 1)["frame"][0]
    rows = context(segs, truth, log, after, "server", CLIENT_IP, before=4, after=2)
    hidden = rows.filter(pl.col("frame").is_null())
    assert hidden["ip_id"].to_list() == [drop["ip_id"]]
    # it sits between the client's packets with the IDs before and after it
    order = rows["ip_id"].to_list()
    frames = rows["frame"].to_list()
    client = rows["from_client"].to_list()
    i = order.index(drop["ip_id"])
    assert [o for o, c in zip(order[:i], client[:i]) if c][-1] == drop["ip_id"] - 1
    assert [f for f, c in zip(frames[i + 1:], client[i + 1:]) if c][0] == after
    # its bytes are the ones the capture later shows re-sent, labelled retransmission by both
    resent = segs.filter((pl.col("rel_seq") == hidden["rel_seq"][0]) & (pl.col("len") > 0)
                         & (pl.col("seg_class") == "retransmission"))
    assert resent.height >= 1
    assert truth.filter(pl.col("frame").is_in(resent["frame"].implode()))["truth"].to_list() == ["retransmission"] * resent.height


def test_context_gives_classes_and_truth_of_captured_data(parts) -> None:
    segs, truth, log = parts
    fr = truth.filter(pl.col("truth") == "retransmission")["frame"][0]
    rows = context(segs, truth, log, fr, "server", CLIENT_IP, before=2, after=2)
    me = rows.filter(pl.col("frame") == fr).row(0, named=True)
    assert (me["class"], me["truth"], me["t_ms"]) == ("retransmission", "retransmission", 0.0)
    assert rows.filter(pl.col("frame").is_not_null()).height == 5


def test_context_rejects_a_frame_that_is_not_tcp(parts) -> None:
    segs, truth, log = parts
    with pytest.raises(ExplainError, match="frame 999999 is not a TCP packet"):
        context(segs, truth, log, 999999, "server", CLIENT_IP)


def test_explain_cli_marks_the_frame_and_lists_hidden_packets(parts, capsys: pytest.CaptureFixture[str]) -> None:
    _, truth, log = parts
    drop = _first_drop(log)
    after = truth.filter(pl.col("ip_id") == drop["ip_id"] + 1)["frame"][0]
    assert lab_main(["explain", str(PCAP / f"{NAME}.pcap"), str(after), "--truth", str(TRUTH),
                     "--before", "3", "--after", "1"]) == 0
    out = capsys.readouterr().out.splitlines()
    marked = [line for line in out if line.startswith(">")]
    assert len(marked) == 1 and marked[0].split()[1] == str(after)
    hidden = [line for line in out if "hidden: dropped by the relay" in line]
    assert len(hidden) == 1 and str(drop["ip_id"]) in hidden[0].split()


def test_explain_cli_names_a_missing_truth_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert lab_main(["explain", str(PCAP / f"{NAME}.pcap"), "5", "--truth", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert f"{tmp_path / (NAME + '.truth.parquet')}: no truth file" in err
