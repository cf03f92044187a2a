"""Truth labels from the relay log, attached to the data packets of a capture (see docs/lab.md).

Every data transmission the relay saw gets one label from the log alone:
`retransmission` / `spurious_retransmission` when it re-sends bytes sent before (needed or not),
`reordered` when it is a first transmission delivered after a later-sent segment (data or FIN) of its
flow direction that starts higher, `new` otherwise. Captured packets are matched to log rows by identity and occurrence.
"""

from __future__ import annotations

from bisect import bisect_left
from pathlib import Path

import polars as pl

from tcpscope.lab.packet import SYN
from tcpscope.lab.pcapio import read_raw_pcap

LABELS = ("new", "reordered", "retransmission", "spurious_retransmission")
KEY = ["src", "sport", "dst", "dport", "seq", "len", "ip_id"]


class Ranges:
    """A set of disjoint half-open integer intervals."""

    def __init__(self) -> None:
        self.iv: list[tuple[int, int]] = []

    def add(self, a: int, b: int) -> None:
        """Add [a, b) merging neighbours."""
        out, placed = [], False
        for s, e in self.iv:
            if e < a or s > b:
                if s > b and not placed:
                    out.append((a, b))
                    placed = True
                out.append((s, e))
            else:
                a, b = min(a, s), max(b, e)
        if not placed:
            out.append((a, b))
        self.iv = sorted(out)

    def intersect(self, a: int, b: int) -> list[tuple[int, int]]:
        """Parts of [a, b) inside the set."""
        i = max(0, bisect_left(self.iv, (a, a)) - 1)
        res = []
        for s, e in self.iv[i:]:
            if s >= b:
                break
            lo, hi = max(a, s), min(b, e)
            if lo < hi:
                res.append((lo, hi))
        return res

    def covers(self, parts: list[tuple[int, int]]) -> bool:
        """True when every interval in `parts` lies inside the set."""
        return all(sum(e - s for s, e in self.intersect(a, b)) == b - a for a, b in parts)


def _unwrap(seqs: list[int]) -> list[int]:
    """Sequence numbers relative to the first, unwrapped past 2^32 (nearest to the previous)."""
    out, base, prev = [], seqs[0], 0
    for s in seqs:
        d = (s - base) % (1 << 32)
        k = prev - (prev % (1 << 32))
        cand = [k + d - (1 << 32), k + d, k + d + (1 << 32)]
        v = min(cand, key=lambda c: abs(c - prev))
        out.append(v)
        prev = v
    return out


def _paws_accepted(pkts: pl.DataFrame, isn: int) -> dict[int, bool]:
    """Which forwarded packets of one flow direction the receiving TCP accepts (by relay `idx`).

    Replays the deliveries in departure order through the receiver's PAWS check (RFC 7323
    section 5.3, as Linux applies it: discard when TS.Recent - TSval > 1): a segment held back
    in the network whose TSval is older than what the receiver has since recorded from the
    left edge is thrown away on arrival, so it was not delivered. TS.Recent is taken from
    segments that start at or below the receiver's next expected sequence number and reach it
    (RFC 7323 section 4.3; an old duplicate wholly below it is dropped before, as Linux does).
    The receiver expects the first byte after the SYN (`isn`, relative 0) when the log holds the
    handshake: segments that arrive first, past lost ones, sit above a hole and set no TS.Recent
    (seed 307: the first four segments of a download lost, a hole re-send held 40 ms taken for
    discarded because later segments had been counted as reaching the left edge). Without it,
    the first segment delivered stands for the left edge.
    """
    fwd = pkts.filter((pl.col("action") == "forward") & pl.col("t_out_ns").is_not_null()).sort("t_out_ns")
    rel = _unwrap([isn, *fwd["seq"].to_list()])[1:]
    first = pkts.sort("idx").head(1)
    rcv_nxt: int | None = 0 if first.height and first["flags"][0] & SYN else None
    ooo = Ranges()
    ts_recent: int | None = None
    accepted: dict[int, bool] = {}
    for idx, a, ln, tsval, flags in zip(fwd["idx"].to_list(), rel, fwd["len"].to_list(),
                                         fwd["tsval"].to_list(), fwd["flags"].to_list()):
        if flags & 0x06:  # SYN / RST: not subject to PAWS here
            accepted[idx] = True
            continue
        if ts_recent is not None and tsval is not None and ((ts_recent - tsval) % (1 << 32)) not in (0, 1) \
                and ((ts_recent - tsval) % (1 << 32)) < (1 << 31):
            accepted[idx] = False
            continue
        accepted[idx] = True
        if rcv_nxt is None:
            rcv_nxt = a
        if a <= rcv_nxt <= a + ln and tsval is not None:
            # only a segment reaching the left edge: Linux drops one wholly below it (an old
            # duplicate: tcp_sequence() fails) before TS.Recent is touched
            ts_recent = tsval
        if ln > 0:
            ooo.add(a, a + ln)
            for lo, hi in ooo.intersect(rcv_nxt, 1 << 62):
                if lo > rcv_nxt:
                    break
                rcv_nxt = max(rcv_nxt, hi)
    return accepted


def label_log(log: pl.DataFrame) -> pl.DataFrame:
    """Label every TCP data transmission in the relay log; adds discarded (forwarded but thrown away by
    the receiver's PAWS check), rel_seq, truth, repaired (for drops)."""
    data = log.filter((pl.col("proto") == 6) & (pl.col("len") > 0)).sort(["dir", "idx"])
    # first seq per flow direction from all TCP packets (SYN included) for rel_seq
    tcp = log.filter(pl.col("proto") == 6).sort(["dir", "idx"])
    base = tcp.group_by(["src", "sport", "dst", "dport"], maintain_order=True).agg(
        pl.col("seq").first().alias("base"), pl.col("flags").first().alias("f0"))
    out = []
    for (src, sport, dst, dport), g in data.group_by(["src", "sport", "dst", "dport"], maintain_order=True):
        b = base.filter((pl.col("src") == src) & (pl.col("sport") == sport)
                        & (pl.col("dst") == dst) & (pl.col("dport") == dport)).row(0, named=True)
        isn = (b["base"] + 1) % (1 << 32) if b["f0"] & SYN else b["base"]
        seqs = g["seq"].to_list()
        rel = _unwrap([isn, *seqs])[1:]
        lens = g["len"].to_list()
        direction = tcp.filter((pl.col("src") == src) & (pl.col("sport") == sport)
                               & (pl.col("dst") == dst) & (pl.col("dport") == dport))
        accepted = _paws_accepted(direction, isn)
        # delivered means accepted by the receiving TCP: forwarded, and not discarded by PAWS
        fwd = [a == "forward" and accepted.get(x, False) for a, x in zip(g["action"].to_list(), g["idx"].to_list())]
        tout = g["t_out_ns"].to_list()
        n = len(seqs)
        # reordered (RFC 4737, adapted to a byte stream): delivered after a segment that was sent
        # later AND starts higher (data, or a FIN: it takes a sequence number too, and the receiver
        # sees the hole it leaves); a later re-send of older bytes opens no hole
        seqd = direction.filter((pl.col("len") > 0) | ((pl.col("flags") & 0x01) != 0))
        o_idx = seqd["idx"].to_list()
        o_rel = _unwrap([isn, *seqd["seq"].to_list()])[1:]
        o_tout = seqd["t_out_ns"].to_list()
        o_fwd = [a == "forward" and accepted.get(x, False) for a, x in zip(seqd["action"].to_list(), o_idx)]
        idx = g["idx"].to_list()
        overtaken = [False] * n
        for i in range(n):
            if not fwd[i] or tout[i] is None:
                continue
            for j in range(bisect_left(o_idx, idx[i] + 1), len(o_idx)):
                if o_fwd[j] and o_tout[j] is not None and o_tout[j] < tout[i] and o_rel[j] > rel[i]:
                    overtaken[i] = True
                    break
        sent, delivered = Ranges(), Ranges()
        labels, repaired = [], [False] * n
        drops: list[tuple[int, int, int]] = []  # (start, end, i) of dropped transmissions
        for i in range(n):
            a, e = rel[i], rel[i] + lens[i]
            prev = sent.intersect(a, e)
            if prev:
                lab = "spurious_retransmission" if delivered.covers(prev) else "retransmission"
                if lab == "retransmission":
                    for j, (da, de, di) in enumerate(drops):
                        if da < e and a < de:
                            repaired[di] = True
            elif overtaken[i]:
                lab = "reordered"
            else:
                lab = "new"
            labels.append(lab)
            sent.add(a, e)
            if fwd[i]:
                delivered.add(a, e)
            else:
                drops.append((a, e, i))
        discarded = [a == "forward" and not accepted.get(x, False)
                     for a, x in zip(g["action"].to_list(), g["idx"].to_list())]
        out.append(g.with_columns(
            pl.Series("discarded", discarded, dtype=pl.Boolean),
            pl.Series("rel_seq", rel, dtype=pl.Int64),
            pl.Series("truth", labels, dtype=pl.Utf8),
            pl.Series("repaired", repaired, dtype=pl.Boolean),
        ))
    if not out:
        return data.with_columns(pl.lit(None, pl.Boolean).alias("discarded"),
                                 pl.lit(None, pl.Int64).alias("rel_seq"), pl.lit(None, pl.Utf8).alias("truth"),
                                 pl.lit(None, pl.Boolean).alias("repaired"))
    return pl.concat(out)


def flow_counts(log: pl.DataFrame) -> pl.DataFrame:
    """Per flow direction: packets and data packets seen by the relay, drops (all, data) and drops by reason."""
    tcp = log.filter(pl.col("proto") == 6)
    return tcp.group_by(["dir", "src", "sport", "dst", "dport"], maintain_order=True).agg(
        pl.len().cast(pl.UInt32).alias("flow_packets"),
        (pl.col("len") > 0).sum().cast(pl.UInt32).alias("flow_data_packets"),
        (pl.col("action") == "drop").sum().cast(pl.UInt32).alias("flow_dropped"),
        ((pl.col("action") == "drop") & (pl.col("len") > 0)).sum().cast(pl.UInt32).alias("flow_dropped_data"),
        *[((pl.col("reason") == r)).sum().cast(pl.UInt32).alias(f"flow_drop_{r}")
          for r in ("random", "ge", "burst", "blackout", "queue")],
        (pl.col("held") & (pl.col("len") > 0)).sum().cast(pl.UInt32).alias("flow_held_data"),
    )


def attach(capture: pl.DataFrame, labelled: pl.DataFrame, vantage: str, client_ip: str) -> pl.DataFrame:
    """Match captured data packets to labelled log rows; `vantage` is 'client' or 'server'."""
    cap = capture.filter(pl.col("len") > 0)
    sender_dir = "c2s" if vantage == "client" else "s2c"
    cap = cap.with_columns(
        pl.when(pl.col("src") == client_ip).then(pl.lit("c2s")).otherwise(pl.lit("s2c")).alias("dir"))
    cap = cap.with_columns((pl.col("dir") == sender_dir).alias("at_sender"))
    # candidates: at the sender side every transmission (in send order); at the receiver side the forwarded ones (in delivery order)
    snd = labelled.filter(pl.col("dir") == sender_dir).sort("idx")
    rcv = labelled.filter((pl.col("dir") != sender_dir) & (pl.col("action") == "forward")).sort("t_out_ns")
    cand = pl.concat([snd, rcv]).with_columns(pl.int_range(pl.len()).over(KEY).alias("occ"))
    cap = cap.with_columns(pl.int_range(pl.len()).over(KEY).alias("occ"))
    keep = [*KEY, "occ", "idx", "rel_seq", "truth", "action", "reason", "held", "t_in_ns", "t_out_ns"]
    m = cap.join(cand.select(keep), on=[*KEY, "occ"], how="left")
    m = m.rename({"idx": "relay_idx", "action": "relay_action", "reason": "drop_reason"})
    return m.drop("occ").sort("frame")


def build_truth(pcap: str | Path, log: pl.DataFrame, vantage: str, client_ip: str) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(per-packet truth rows for the capture's data packets, per-flow-direction loss counts)."""
    labelled = label_log(log)
    cap = read_raw_pcap(pcap)
    rows = attach(cap, labelled, vantage, client_ip)
    flows = flow_counts(log)
    # dropped data transmissions that carried undelivered bytes (a loss the sender had to repair),
    # and those whose bytes a later `retransmission` did re-send; dropped spurious re-sends need no repair
    rep = labelled.filter(pl.col("action") == "drop").group_by(["dir", "src", "sport", "dst", "dport"]).agg(
        (pl.col("truth") != "spurious_retransmission").sum().cast(pl.UInt32).alias("flow_lost_data"),
        pl.col("repaired").sum().cast(pl.UInt32).alias("flow_lost_data_repaired"))
    flows = flows.join(rep, on=["dir", "src", "sport", "dst", "dport"], how="left").with_columns(
        pl.col("flow_lost_data").fill_null(0), pl.col("flow_lost_data_repaired").fill_null(0))
    rows = rows.join(flows.drop("dir"), on=["src", "sport", "dst", "dport"], how="left")
    rows = rows.with_columns(pl.lit(Path(pcap).name).alias("capture"), pl.lit(vantage).alias("vantage"))
    first = ["capture", "vantage", "frame", "ts_ns", "src", "sport", "dst", "dport", "seq", "len", "ip_id",
             "tsval", "flags", "dir", "at_sender", "rel_seq", "truth", "relay_idx", "relay_action", "drop_reason", "held",
             "t_in_ns", "t_out_ns"]
    rows = rows.select(first + [c for c in rows.columns if c not in first and c != "ack"])
    return rows.sort("frame"), flows


def truth_summary(truth: Path) -> str:
    """One line: how many data packets a truth file labels, and how many of each label."""
    t = pl.read_parquet(truth)
    counts = dict(t.group_by("truth").len().sort("truth").iter_rows())
    return f"{len(t)} data packets {counts}"
