"""Per flow and sending side: volumes, class counts, loss and reordering rates, RTT, SYN options."""

from __future__ import annotations

import polars as pl

from tcpscope.handshake import syn_options
from tcpscope.classes import CLASS_NAMES, INFERRED_BASES

DATA_CLASSES = CLASS_NAMES


def flow_table(
    df: pl.DataFrame,
    hs: pl.DataFrame,
    sides: pl.DataFrame,
    device: str | None,
    direction: str = "auto",
    server: str | None = None,
    port: int | None = None,
) -> pl.DataFrame:
    """Build `flows` (design.md): one row per connection and sending side, both sides always present."""
    if df.height == 0:
        return _empty()
    conn = df.group_by("flow_id").agg(
        client=pl.col("src").filter(pl.col("from_client")).first().fill_null(pl.col("dst").first()),
        client_port=pl.col("sport").filter(pl.col("from_client")).first().fill_null(pl.col("dport").first()),
        server=pl.col("dst").filter(pl.col("from_client")).first().fill_null(pl.col("src").first()),
        server_port=pl.col("dport").filter(pl.col("from_client")).first().fill_null(pl.col("sport").first()),
        vlan=pl.col("vlan").first(),
        start_t=pl.col("t").min(),
        end_t=pl.col("t").max(),
    ).with_columns(duration_s=pl.col("end_t") - pl.col("start_t"))
    conn = conn.join(hs, on="flow_id", how="left")
    vant = sides.filter(pl.col("from_client")).select(
        "flow_id", vantage=pl.when(pl.col("_sender_vantage")).then(pl.lit("client")).otherwise(pl.lit("server"))
    )
    conn = conn.join(vant, on="flow_id", how="left")

    data = pl.col("len") > 0
    cls = pl.col("seg_class")
    # retransmissions whose first copy the capture point never saw: inferred from ID gaps
    inferred = pl.col("seg_basis").is_in(INFERRED_BASES) if "seg_basis" in df.columns else pl.lit(False)
    per_side = df.group_by(["flow_id", "from_client"]).agg(
        packets=pl.len().cast(pl.UInt32),
        data_packets=data.sum().cast(pl.UInt32),
        bytes=((pl.col("rel_seq") + pl.col("len")).filter(data).max() - pl.col("rel_seq").filter(data).min())
        .fill_null(0)
        .clip(0),
        bytes_sent=pl.col("len").cast(pl.Int64).sum(),
        _t_first=pl.col("t").filter(data).min(),
        _t_last=pl.col("t").filter(data).max(),
        rtt_min_ms=pl.col("rtt_ms").min(),
        rtt_median_ms=pl.col("rtt_ms").median(),
        rtt_p95_ms=pl.col("rtt_ms").quantile(0.95, interpolation="linear"),
        rtt_samples=pl.col("rtt_ms").count().cast(pl.UInt32),
        **{f"n_{c}": (cls == c).sum().cast(pl.UInt32) for c in DATA_CLASSES},
        n_retransmission_inferred=inferred.sum().cast(pl.UInt32),
    )
    # every connection has both sides, even when one sent nothing
    grid = conn.select("flow_id").join(pl.DataFrame({"from_client": [True, False]}), how="cross")
    per_side = grid.join(per_side, on=["flow_id", "from_client"], how="left")
    counts = ["packets", "data_packets", "bytes", "bytes_sent", "rtt_samples", "n_retransmission_inferred"]
    counts += [f"n_{c}" for c in DATA_CLASSES]
    per_side = per_side.with_columns(pl.col(c).fill_null(0) for c in counts)
    span = pl.col("_t_last") - pl.col("_t_first")
    # rates count transmissions that carry data to be delivered: not spurious re-sends,
    # network duplicates, keep-alives or window probes (docs/metrics.md)
    counted = pl.col("n_new") + pl.col("n_retransmission") + pl.col("n_reordered")
    per_side = per_side.with_columns(
        throughput_bps=pl.when(span > 0).then(pl.col("bytes") * 8 / span),
        loss_rate=pl.when(counted > 0).then(pl.col("n_retransmission") / counted),
        reorder_rate=pl.when(counted > 0).then(pl.col("n_reordered") / counted),
    ).drop(["_t_first", "_t_last"])
    per_side = per_side.join(syn_options(df), on=["flow_id", "from_client"], how="left")

    out = conn.join(per_side, on="flow_id", how="left")
    sender_addr = pl.when(pl.col("from_client")).then(pl.col("client")).otherwise(pl.col("server"))
    dev = pl.lit(device, pl.Utf8)
    out = out.with_columns(
        sender=pl.when(pl.col("from_client")).then(pl.lit("client")).otherwise(pl.lit("server")),
        device=dev,
        sender_is_device=(sender_addr == dev) if device else pl.lit(None, pl.Boolean),
    )
    # direction: up when the device (or, with no device, the client) sends most payload
    mine = pl.col("sender_is_device") if device else pl.col("from_client")
    own = pl.col("bytes_sent").filter(mine).sum().over("flow_id")
    other = pl.col("bytes_sent").filter(~mine).sum().over("flow_id")
    involves = ((pl.col("client") == dev) | (pl.col("server") == dev)) if device else pl.lit(True)
    guessed = pl.when(involves).then(pl.when(own > other).then(pl.lit("up")).otherwise(pl.lit("down")))
    out = out.with_columns(direction=pl.when(involves).then(pl.lit(direction)) if direction != "auto" else guessed)
    matched = involves
    if server is not None:
        matched = matched & ((pl.col("server") == server) | (pl.col("client") == server))
    if port is not None:
        matched = matched & ((pl.col("server_port") == port) | (pl.col("client_port") == port))
    out = out.with_columns(matched=matched)
    return out.select(FLOW_COLUMNS).sort(["flow_id", "from_client"], descending=[False, True])


FLOW_COLUMNS = [
    "flow_id", "client", "client_port", "server", "server_port", "vlan", "start_t", "end_t", "duration_s",
    "handshake_seen", "handshake_rtt_ms", "vantage", "device", "direction", "matched",
    "sender", "from_client", "sender_is_device", "packets", "data_packets", "bytes", "bytes_sent", "throughput_bps",
    *[f"n_{c}" for c in DATA_CLASSES], "n_retransmission_inferred",
    "loss_rate", "reorder_rate", "rtt_min_ms", "rtt_median_ms", "rtt_p95_ms", "rtt_samples",
    "syn_mss", "syn_wscale", "syn_sackok", "syn_ts",
]


def _empty() -> pl.DataFrame:
    """A flows table with no rows (a capture without TCP)."""
    return pl.DataFrame(schema={c: pl.Null for c in FLOW_COLUMNS})
