"""Job resources sized from the capture (tcpscope.resources)."""

from __future__ import annotations

import gzip
from pathlib import Path

import polars as pl

from tcpscope import resources as res


def test_capture_bytes(tmp_path: Path) -> None:
    raw = bytes(range(256)) * 400
    plain = tmp_path / "a.pcap"
    plain.write_bytes(raw)
    packed = tmp_path / "a.pcap.gz"
    packed.write_bytes(gzip.compress(raw))
    assert res.capture_bytes(plain) == len(raw)
    assert res.capture_bytes(packed) == len(raw)  # the uncompressed size
    assert res.capture_bytes(tmp_path / "missing.pcap") == 0
    fake = tmp_path / "b.gz"  # named .gz but not gzip: its file size
    fake.write_bytes(b"not gzip at all, just bytes")
    assert res.capture_bytes(fake) == fake.stat().st_size


def test_memory_models() -> None:
    # small captures get the floor; the measured bulk capture (159 MB, 1.2 M packets,
    # 1089 MB peak RSS for analyze, 1450 MB for filter) gets more than it used
    assert res.analyze_mem_mb(0) == res.MIN_MB and res.analyze_mem_mb(10_000) <= 1100
    assert res.figures_mem_mb(0) == 2000  # Chromium: 1.4-1.5 GB per job in sacct
    assert res.analyze_mem_mb(159_472_874) >= 1.5 * 1089
    assert res.filter_mem_mb(159_472_874) >= 1.5 * 1450
    assert res.analyze_mem_mb(319_000_000) >= 1.5 * 1812
    for model in (res.analyze_mem_mb, res.filter_mem_mb, res.figures_mem_mb, res.split_mem_mb,
                  res.merge_mem_mb):
        sizes = [model(n) for n in (0, 10**6, 10**8, 10**9)]
        assert sizes == sorted(sizes) and all(s % 100 == 0 for s in sizes)
    assert res.runtime_min(0) == 10 and res.runtime_min(100_000_000) == 20


def test_shard_memory_from_its_packets(tmp_path: Path) -> None:
    shard = tmp_path / "packets.parquet"
    pl.DataFrame({"x": range(2_000_000)}).write_parquet(shard)
    assert res.shard_mem_mb(shard, 10**9, 8) == 3000  # 1000 + 1 MB per 1000 packets
    # not there yet: an even share of the capture
    assert res.shard_mem_mb(tmp_path / "none.parquet", 8 * 10**8, 8) == res.analyze_mem_mb(10**8)
