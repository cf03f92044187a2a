"""Unit tests of the impairment model and the truth labelling (no root needed)."""

from __future__ import annotations

import polars as pl
import pytest

from tcpscope.lab.impair import DirImpair, Impairer
from tcpscope.lab.relay import LOG_SCHEMA
from tcpscope.lab.truth import Ranges, label_log


def _decisions(seed: int, cfg: DirImpair, n: int = 400) -> list[tuple[bool, str | None, bool]]:
    imp = Impairer(cfg, seed, "c2s")
    return [(d.drop, d.reason, d.held) for d in
            (imp.decide(i * 1_000_000, 1500, True, False) for i in range(n))]


CFG = DirImpair(delay_ms=20, jitter_ms=5, loss=0.03, ge_enter=0.02, ge_exit=0.3, ge_loss=0.5,
                burst_at=[100], burst_len=4, reorder=0.05, reorder_ms=10, reorder_behind=2)


def test_same_seed_same_decisions() -> None:
    assert _decisions(1, CFG) == _decisions(1, CFG)
    assert _decisions(1, CFG) != _decisions(2, CFG)


def test_burst_drops_k_consecutive() -> None:
    d = _decisions(7, DirImpair(burst_at=[10], burst_len=4), 30)
    assert [i for i, x in enumerate(d) if x[0]] == [10, 11, 12, 13]
    assert all(x[1] == "burst" for x in d[10:14])


def test_decisions_independent_of_outcome_of_earlier_packets() -> None:
    """Random draws per packet are fixed, so adding a burst changes nothing else."""
    a = _decisions(3, DirImpair(loss=0.1), 200)
    b = _decisions(3, DirImpair(loss=0.1, burst_at=[50], burst_len=3), 200)
    assert [x for i, x in enumerate(a) if i not in (50, 51, 52)] == [x for i, x in enumerate(b) if i not in (50, 51, 52)]


def test_rate_queue_drop_tail_and_fifo() -> None:
    imp = Impairer(DirImpair(delay_ms=10, jitter_ms=5, rate_kbit=1000, queue_bytes=15_000), 1, "c2s")
    ds = [imp.decide(0, 1500, True, False) for _ in range(20)]  # a burst at t=0
    assert sum(d.drop for d in ds) == 10 and all(d.reason == "queue" for d in ds[10:])
    outs = [d.out_ns for d in ds if not d.drop]
    assert outs == sorted(outs) and outs[1] - outs[0] >= 12_000_000 - 10_000_000  # 12 ms per packet at 1 Mbit/s


def test_spare_syn() -> None:
    imp = Impairer(DirImpair(loss=1.0), 1, "c2s")
    assert not imp.decide(0, 60, False, True).drop
    assert imp.decide(0, 60, False, False).drop


def test_ranges() -> None:
    r = Ranges()
    r.add(0, 10)
    r.add(20, 30)
    r.add(10, 20)
    assert r.iv == [(0, 30)]
    r.add(40, 50)
    assert r.intersect(25, 45) == [(25, 30), (40, 45)]
    assert r.covers([(0, 5), (41, 49)]) and not r.covers([(29, 41)])


def _log(rows: list[tuple[str, int, int, str, int, int]]) -> pl.DataFrame:
    """rows: (dir, idx, seq, action, len, t_out)."""
    recs = []
    for d, idx, seq, action, ln, tout in rows:
        c2s = d == "c2s"
        recs.append({"dir": d, "idx": idx, "t_in_ns": idx, "t_out_ns": tout if action == "forward" else None,
                     "action": action, "reason": "random" if action == "drop" else None, "held": False,
                     "proto": 6, "src": "192.168.2.2" if c2s else "203.0.113.10",
                     "dst": "203.0.113.10" if c2s else "192.168.2.2", "sport": 40000 if c2s else 80,
                     "dport": 80 if c2s else 40000, "seq": seq, "ack": 0, "flags": 0x10, "win": 100,
                     "len": ln, "ip_id": idx, "tsval": None, "ip_len": 52 + ln})
    return pl.DataFrame(recs, schema=LOG_SCHEMA)


def test_labels() -> None:
    base = 2**32 - 1500  # sequence numbers wrap inside the flow
    m = 2**32
    log = _log([
        ("c2s", 0, base, "forward", 1000, 10),  # new
        ("c2s", 1, (base + 1000) % m, "drop", 1000, 0),  # new (dropped at the relay)
        ("c2s", 2, (base + 2000) % m, "forward", 1000, 40),  # reordered: idx 3 left first
        ("c2s", 3, (base + 3000) % m, "forward", 1000, 30),  # new
        ("c2s", 4, (base + 1000) % m, "forward", 1000, 50),  # retransmission (all earlier copies dropped)
        ("c2s", 5, (base + 1000) % m, "forward", 1000, 60),  # spurious (idx 4 got through)
        ("c2s", 6, (base + 3000) % m, "forward", 500, 70),  # spurious, partial range
        ("c2s", 7, (base + 4000) % m, "forward", 0, 80),  # pure ACK: not labelled
    ])
    lab = label_log(log).sort("idx")
    assert lab["truth"].to_list() == ["new", "new", "reordered", "new", "retransmission",
                                      "spurious_retransmission", "spurious_retransmission"]
    assert lab["rel_seq"].to_list() == [0, 1000, 2000, 3000, 1000, 1000, 3000]
    assert lab.filter(pl.col("action") == "drop")["repaired"].to_list() == [True]


@pytest.mark.parametrize("handshake", [True, False], ids=["handshake-logged", "no-handshake"])
def test_paws_left_edge_starts_after_the_syn(handshake: bool) -> None:
    """The first data segment is lost; two later ones arrive (above the hole), the hole's re-send is
    held and arrives after a third, newer one; then the sender re-sends the hole again. The later
    segments sat above a hole and set no TS.Recent, so the held re-send passed PAWS and delivered
    the bytes: the second re-send was needless (seed 307). Without the handshake in the log, the
    first segment delivered stands for the left edge, and PAWS discards the held re-send."""
    s = 7_000
    rows = [(0, s, 0x02, 0, None, "forward", 0)] if handshake else []
    rows += [
        (1, s + 1, 0x10, 1000, 100, "drop", 0),  # lost
        (2, s + 1001, 0x10, 1000, 100, "forward", 20),
        (3, s + 2001, 0x10, 1000, 101, "forward", 21),
        (4, s + 1, 0x10, 1000, 110, "forward", 60),  # the hole's re-send, held past idx 5
        (5, s + 3001, 0x10, 1000, 120, "forward", 50),
        (6, s + 1, 0x10, 1000, 130, "forward", 70),  # the hole re-sent again
    ]
    recs = [
        {"dir": "c2s", "idx": idx, "t_in_ns": idx, "t_out_ns": tout if action == "forward" else None,
         "action": action, "reason": "random" if action == "drop" else None, "held": idx == 4, "proto": 6,
         "src": "192.168.2.2", "dst": "203.0.113.10", "sport": 40000, "dport": 80, "seq": seq, "ack": 0,
         "flags": flags, "win": 100, "len": ln, "ip_id": idx, "tsval": tsval, "ip_len": 52 + ln}
        for idx, seq, flags, ln, tsval, action, tout in rows
    ]
    lab = label_log(pl.DataFrame(recs, schema=LOG_SCHEMA)).sort("idx")
    assert lab["truth"].to_list() == [
        "new", "new", "new", "retransmission", "new",
        "spurious_retransmission" if handshake else "retransmission",
    ]
