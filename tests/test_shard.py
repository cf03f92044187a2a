"""Sharding a capture by connection: the merged analysis of the shards equals the
analysis of the whole capture, for every shard count."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from packetgen import chat_beside_an_upload, frame
from tcpscope.analysis import analyze, capture_context
from tcpscope.context import Context
from tcpscope.decode import decode_capture
from tcpscope.shard import (
    analyze_sharded,
    assign_shards,
    connection_key,
    merge,
    shard_count,
    split_packets,
    time_origin,
)

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "captures"
# Many flows, timestamps not in file order (500 echo connections).
ECHO = SHARED / "zeek_echo-connections.pcap.gz"
# Bundled lab captures with several connections, and the device of the study.
BUNDLED = ["download_moments.pcap", "post_moments.pcap", "receive_picture.pcap"]
PHONE, SERVER = "192.168.2.2", "203.0.113.10"


def _packets(path: Path) -> pl.DataFrame:
    if not path.is_file():
        pytest.skip(f"{path} is not here")
    return decode_capture(path).packets


def _assert_same(a, b) -> None:
    assert_frame_equal(a.segments, b.segments)
    assert_frame_equal(a.flows, b.flows)


def test_shard_count() -> None:
    assert shard_count(300_000_000, 200, 8) == 8
    assert shard_count(200_000_000, 200, 8) == 1
    assert shard_count(10, None, 8) == 1
    assert shard_count(10, 0, 8) == 1
    assert shard_count(10_000, 0.001, 4) == 4
    assert shard_count(10_000, 0.001, 1) == 1


def test_every_connection_in_one_shard() -> None:
    packets = _packets(ECHO)
    shard = assign_shards(packets, 8)
    assert shard.len() == packets.height and shard.dtype == pl.UInt32
    per_key = pl.DataFrame({"key": connection_key(packets), "shard": shard})
    assert (per_key.group_by("key").agg(pl.col("shard").n_unique())["shard"] == 1).all()
    # both directions give one key, and the hash is stable (not seeded per process)
    assert per_key["key"].n_unique() == 500
    assert assign_shards(packets, 8).equals(shard)
    parts = split_packets(packets, 8)
    assert sum(p.height for p in parts) == packets.height
    assert sum(p.height > 0 for p in parts) >= 6  # 500 connections spread over the shards
    assert all(p.columns == packets.columns for p in parts)


@pytest.mark.parametrize("n", [2, 8, 13])
def test_merged_equals_whole_many_flows(n: int) -> None:
    packets = _packets(ECHO)
    assert not packets["ts_ns"].is_sorted()  # ties and out-of-order times are exercised
    _assert_same(analyze(packets), analyze_sharded(packets, n))


@pytest.mark.parametrize("name", BUNDLED)
def test_merged_equals_whole_with_device(name: str) -> None:
    packets = _packets(REPO / "pcap" / name)
    kw = dict(device="192.168.2.2", direction="auto")
    _assert_same(analyze(packets, **kw), analyze_sharded(packets, 4, **kw))


def test_shards_need_the_capture_time_origin() -> None:
    packets = _packets(REPO / "pcap" / "download_moments.pcap")
    parts = split_packets(packets, 4)
    t0 = time_origin(packets)
    whole = analyze(packets)
    _assert_same(whole, merge([analyze(p, t0_ns=t0) for p in parts]))
    # each shard on its own clock would shift `t` of the shards not holding the first packet
    own = merge([analyze(p) for p in parts])
    assert not own.segments["t"].equals(whole.segments["t"])


def test_empty_shards_and_no_packets() -> None:
    packets = _packets(REPO / "pcap" / "send_text.pcap")  # one connection: one shard used
    _assert_same(analyze(packets), analyze_sharded(packets, 8))
    empty = packets.head(0)
    merged = analyze_sharded(empty, 3)
    assert merged.segments.height == 0 and merged.flows.height == 0
    assert merged.segments.schema == analyze(empty).segments.schema


def test_split_needs_file_order() -> None:
    packets = _packets(REPO / "pcap" / "send_text.pcap")
    with pytest.raises(ValueError, match="file order"):
        split_packets(packets.reverse(), 2)


def test_shards_take_the_capture_s_context() -> None:
    """Split so that the two connections land in different shards, the chat's shard alone cannot
    tell how the phone numbers its packets; with the whole capture's context (what the workflow's
    shard_split writes, as JSON) the merged result equals the unsplit one."""
    packets = frame(*chat_beside_an_upload(PHONE, SERVER))
    n = next(k for k in range(2, 16) if assign_shards(packets, k).n_unique() == 2)
    whole = analyze(packets, device=PHONE)
    chat = whole.segments.filter((pl.col("sport") == 53891) & (pl.col("len") > 0))["seg_class"].to_list()
    assert chat == ["retransmission"]
    _assert_same(whole, analyze_sharded(packets, n, device=PHONE))
    ctx = Context.from_json(capture_context(packets).to_json())
    assert PHONE in ctx.per_socket_hosts
    part = next(p for p in split_packets(packets, n) if (p["sport"] == 53891).any())
    alone = analyze(part, device=PHONE).segments
    with_ctx = analyze(part, device=PHONE, context=ctx).segments
    resent = (pl.col("sport") == 53891) & (pl.col("len") > 0)
    assert alone.filter(resent)["seg_class"].to_list() == ["new"]
    assert with_ctx.filter(resent)["seg_class"].to_list() == ["retransmission"]
