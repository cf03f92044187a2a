"""One segment in its flow: the packets around it with tcpscope's class, the truth label and what
the relay did, including the packets the relay dropped before they reached the capture point.

This is what one reads to decide whether a miss of `verify` is the classifier's error or a case
the capture held no evidence for (docs/lab.md): the hidden packets are the lab's knowledge, not
the capture's.
"""

from __future__ import annotations

import polars as pl

from tcpscope.errors import TcpscopeError

MOD = 1 << 32
FIN, SYN, RST = 0x01, 0x02, 0x04


class ExplainError(TcpscopeError):
    """The frame is not a TCP packet of the capture."""


def _bases(flow: pl.DataFrame) -> dict[bool, int]:
    """Raw sequence number of relative 0, per side (from_client), from the analysed packets."""
    b = flow.filter(pl.col("rel_seq").is_not_null()).group_by("from_client").agg(
        ((pl.col("seq").first().cast(pl.Int64) - pl.col("rel_seq").first()) % MOD).alias("base"))
    return dict(zip(b["from_client"].to_list(), b["base"].to_list()))


def _rel(raw: pl.Expr, base: int | None) -> pl.Expr:
    """Raw 32-bit numbers relative to `base` (null when the side has no base)."""
    if base is None:
        return pl.lit(None, pl.Int64)
    return (raw.cast(pl.Int64) - base) % MOD


def _way(src: str, sport: int, dst: str, dport: int) -> pl.Expr:
    """Rows of the log going from (src, sport) to (dst, dport)."""
    return (pl.col("src") == src) & (pl.col("sport") == sport) & (pl.col("dst") == dst) & (pl.col("dport") == dport)


def hidden_packets(log: pl.DataFrame, flow: pl.DataFrame, vantage: str, client_ip: str) -> pl.DataFrame:
    """The flow's packets the relay dropped on their way to the capture point (at the client's side:
    the server's; at the server's side: the client's), in the shape `context` prints."""
    a = flow.row(0, named=True)
    to_vantage = "s2c" if vantage == "client" else "c2s"
    drop = log.filter((pl.col("proto") == 6) & (pl.col("action") == "drop") & (pl.col("dir") == to_vantage)
                      & (_way(a["src"], a["sport"], a["dst"], a["dport"])
                         | _way(a["dst"], a["dport"], a["src"], a["sport"])))
    if drop.is_empty():
        return pl.DataFrame()
    # a dropped packet has no arrival time: place it no sooner than the latest arrival of the
    # packets the relay took in before it in its direction, nor than the shortest delay any packet
    # had after its own arrival at the relay (a queue's delay varies too much to add a neighbour's)
    fwd = log.filter((pl.col("dir") == to_vantage) & (pl.col("action") == "forward")).sort("idx")
    least = (fwd["t_out_ns"] - fwd["t_in_ns"]).min() or 0
    fwd = fwd.select("idx", pl.col("t_out_ns").cum_max().alias("_after"))
    drop = drop.sort("idx").join_asof(fwd, on="idx", strategy="backward").with_columns(
        pl.max_horizontal(pl.col("_after") + 1, pl.col("t_in_ns") + least).alias("t_in_ns"))
    bases = _bases(flow)
    # the side's flag in the analysis (the TCP client, which need not be the lab's client)
    side = flow.filter(pl.col("src") == drop["src"][0])["from_client"]
    fc = bool(side[0]) if side.len() else drop["src"][0] == client_ip
    return drop.select(
        pl.lit(None, pl.UInt32).alias("frame"),
        pl.col("t_in_ns").alias("ts_ns"),
        pl.lit(fc).alias("from_client"),
        _rel(pl.col("seq"), bases.get(fc)).alias("rel_seq"),
        pl.col("len").cast(pl.Int64),
        _rel(pl.col("ack"), bases.get(not fc)).alias("rel_ack"),
        pl.col("flags").cast(pl.Int64),
        pl.col("ip_id").cast(pl.Int64),
        pl.col("tsval").cast(pl.Int64),
        pl.lit(None, pl.Int64).alias("tsecr"),
        pl.lit("").alias("sack"),
        pl.lit("").alias("class"),
        pl.lit("").alias("basis"),
        pl.lit("").alias("truth"),
        pl.format("hidden: dropped by the relay ({})", pl.col("reason").fill_null("?")).alias("note"),
        pl.col("seq").alias("_raw_seq"), pl.col("len").alias("_raw_len"), pl.col("ip_id").alias("_raw_id"),
    )


def _sack_text(flow: pl.DataFrame, bases: dict[bool, int]) -> pl.Expr:
    """SACK blocks relative to the other side's base, as 'a-b a-b'."""
    return pl.struct("sack_left", "sack_right", "from_client").map_elements(
        lambda r: " ".join(
            f"{(a - bases.get(not r['from_client'], 0)) % MOD}-{(b - bases.get(not r['from_client'], 0)) % MOD}"
            for a, b in zip(r["sack_left"] or [], r["sack_right"] or [])),
        return_dtype=pl.String)


def context(segments: pl.DataFrame, truth: pl.DataFrame, log: pl.DataFrame | None, frame: int,
            vantage: str, client_ip: str, before: int = 15, after: int = 15) -> pl.DataFrame:
    """The packets of `frame`'s connection from `before` packets before it to `after` after it
    (counted among the captured ones), with the hidden ones of that span merged in by time."""
    hit = segments.filter(pl.col("frame") == frame)
    if hit.is_empty() or hit["flow_id"][0] is None:
        raise ExplainError(f"frame {frame} is not a TCP packet the analysis assigned to a connection")
    flow = segments.filter(pl.col("flow_id") == hit["flow_id"][0]).sort("frame")
    pos = flow["frame"].to_list().index(frame)
    span = flow.slice(max(0, pos - before), before + after + 1)
    bases = _bases(flow)
    lab = truth.select("frame", "truth", "relay_action", "held", "t_in_ns", "t_out_ns")
    rows = span.join(lab, on="frame", how="left").select(
        "frame", "ts_ns", "from_client", "rel_seq", pl.col("len").cast(pl.Int64), "rel_ack",
        pl.col("flags").cast(pl.Int64), pl.col("ip_id").cast(pl.Int64),
        pl.col("opt_tsval").cast(pl.Int64).alias("tsval"), pl.col("opt_tsecr").cast(pl.Int64).alias("tsecr"),
        _sack_text(span, bases).alias("sack"),
        pl.col("seg_class").fill_null("").alias("class"),
        (pl.col("seg_basis") if "seg_basis" in span.columns else pl.lit(None, pl.String)).fill_null("").alias("basis"),
        pl.col("truth").fill_null(""),
        pl.when(pl.col("relay_action") == "drop").then(pl.lit("then dropped by the relay"))
        .when(pl.col("held").fill_null(False))
        .then(pl.format("held by the relay {} ms", ((pl.col("t_out_ns") - pl.col("t_in_ns")) / 1e6).round(1)))
        .otherwise(pl.lit("")).alias("note"),
    )
    if log is not None:
        hid = hidden_packets(log, flow, vantage, client_ip)
        if not hid.is_empty():
            lo, hi = span["ts_ns"].min(), span["ts_ns"].max()
            hid = hid.filter(pl.col("ts_ns").is_between(lo, hi))
            labelled = _hidden_truth(log, hid)
            rows = pl.concat([rows, labelled], how="diagonal_relaxed")
    t0 = hit["ts_ns"][0]
    return rows.sort("ts_ns", "frame", nulls_last=True).with_columns(
        ((pl.col("ts_ns") - t0) / 1e6).round(3).alias("t_ms")).drop("ts_ns")


def _hidden_truth(log: pl.DataFrame, hid: pl.DataFrame) -> pl.DataFrame:
    """Truth labels for hidden data packets (from the whole log, so earlier sends count)."""
    from tcpscope.lab.truth import label_log

    if hid.is_empty():
        return hid.drop("_raw_seq", "_raw_len", "_raw_id")
    lab = label_log(log).filter(pl.col("action") == "drop").select(
        pl.col("seq").alias("_raw_seq"), pl.col("len").alias("_raw_len"), pl.col("ip_id").alias("_raw_id"),
        pl.col("truth").alias("_t")).unique(["_raw_seq", "_raw_len", "_raw_id"])
    out = hid.join(lab, on=["_raw_seq", "_raw_len", "_raw_id"], how="left")
    return out.with_columns(pl.col("_t").fill_null("").alias("truth")).drop("_raw_seq", "_raw_len", "_raw_id", "_t")


def _flags_text(f: int) -> str:
    return "".join(c for bit, c in ((SYN, "S"), (FIN, "F"), (RST, "R")) if f & bit)


def context_text(rows: pl.DataFrame, frame: int, device_is_client: bool | None = None) -> str:
    """A fixed-width listing of `context`'s rows; the asked-for frame is marked with '>'."""
    head = f"{'':1}{'frame':>7} {'t ms':>10} {'side':<4} {'seq':>9} {'len':>5} {'ack':>9} {'ip id':>6} " \
           f"{'tsval':>10} {'tsecr':>10} {'class':<24} {'basis':<22} {'truth':<24} flags, sack / note"
    lines = [head]
    for r in rows.iter_rows(named=True):
        mark = ">" if r["frame"] == frame else " "
        side = "C>S" if r["from_client"] else "S>C"
        fr = "-" if r["frame"] is None else str(r["frame"])
        fl = _flags_text(r["flags"] or 0)

        def num(v: object) -> str:
            return "" if v is None else str(v)

        extra = " ".join(x for x in (fl, r["sack"] and f"sack {r['sack']}", r["note"]) if x)
        lines.append(f"{mark}{fr:>7} {r['t_ms']:>10.3f} {side:<4} {num(r['rel_seq']):>9} {num(r['len']):>5} "
                     f"{num(r['rel_ack']):>9} {num(r['ip_id']):>6} {num(r['tsval']):>10} {num(r['tsecr']):>10} "
                     f"{r['class']:<24} {r['basis']:<22} {r['truth']:<24} {extra}".rstrip())
    return "\n".join(lines)
