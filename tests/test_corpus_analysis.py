"""Analysis of real public captures whose behaviour is known (documented in MANIFEST.tsv)."""

from __future__ import annotations

import polars as pl
import pytest

from corpus import MANIFEST, corpus
from tcpscope.analysis import analyze
from tcpscope.decode import decode_capture


def _analyze(name: str, **kw):
    return analyze(decode_capture(corpus(name)).packets, **kw)


@pytest.mark.parametrize(
    "name", ["tt_fast_reuse.dmp.gz", "zeek_echo-connections.pcap.gz", "ndpi_whatsapp.pcap", "ndpi_weibo.pcap",
             "lw_simple_http_sll2.pcap", "zeek_ftp_ipv6.pcap"]
)
def test_connection_count_matches_manifest(name: str) -> None:
    a = _analyze(name)
    assert a.segments["flow_id"].n_unique() == MANIFEST[name]["tcp_flows"]
    assert a.flows.height == 2 * MANIFEST[name]["tcp_flows"]


def test_hardware_duplicates_are_not_retransmissions() -> None:
    # every segment was captured twice by the capture hardware (same IP ID): no loss at all
    a = _analyze("tt_hardware_dups.dmp.gz")
    counts = a.segments["seg_class"].value_counts()
    by = dict(counts.iter_rows())
    assert by.get("retransmission", 0) == 0
    assert by["network_duplicate"] >= 0.99 * by["new"]


def test_zero_window_probes_are_found() -> None:
    a = _analyze("tt_zwnd.dmp.gz")
    assert (a.segments["seg_class"] == "window_probe").sum() == MANIFEST["tt_zwnd.dmp.gz"]["zw_probe"]
    assert (a.segments["seg_class"] == "retransmission").sum() == 0


def test_rto_retransmissions_without_acks() -> None:
    a = _analyze("cs_tcp_retransmissions.pcapng")
    assert a.segments["seg_class"].drop_nulls().to_list() == ["new"] + ["retransmission"] * 5
    gaps = a.segments.filter(pl.col("seg_class") == "retransmission")["t"].diff().drop_nulls().to_list()
    assert all(b > a for a, b in zip(gaps, gaps[1:]))  # exponential back-off between the re-sends


def test_wrapped_sequence_numbers_stay_monotonic() -> None:
    # an edited real capture whose sequence numbers cross 2^32 mid-transfer
    a = _analyze("pcpp_one_tcp_stream_max_seq.pcap")
    new = a.segments.filter(pl.col("seg_class") == "new").sort("t")
    assert new["seq"].cast(pl.Int64).max() - new["seq"].cast(pl.Int64).min() > 1 << 31  # it does wrap
    steps = new.select(pl.col("rel_seq").diff().over("from_client").alias("d"))["d"].drop_nulls()
    assert steps.min() > 0
    assert new["rel_seq"].max() < 1 << 20  # no 4 GB jump at the wrap
    assert (a.segments["seg_class"] == "retransmission").sum() == MANIFEST["pcpp_one_tcp_stream_max_seq.pcap"]["retx"]


def test_flow_without_handshake_is_analysed() -> None:
    a = _analyze("zeek_tcp_missing-syn.pcap")
    assert not a.flows["handshake_seen"].any()
    assert a.flows["bytes"].sum() > 0 and (a.segments["seg_class"] == "new").sum() > 0
