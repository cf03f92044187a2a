"""Pick the flow directions to draw and slice the segments table for them."""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from tcpscope.figures.style import MAX_ROWS


@dataclass(frozen=True)
class Direction:
    """One sending side of one connection that carried data."""

    flow_id: int
    from_client: bool
    tag: str  # "up" / "down" with a device, "c->s" / "s->c" without
    src: str
    dst: str
    bytes: int
    window_scaled: bool = True  # False: no handshake seen, win_bytes is the raw (unscaled) window

    @property
    def rwnd_note(self) -> str:
        """Suffix for window trace names when the window could not be scaled."""
        return "" if self.window_scaled else " (unscaled: no handshake seen)"

    @property
    def key(self) -> int:
        """Integer key used to partition frames: 2*flow_id + from_client."""
        return 2 * self.flow_id + int(self.from_client)

    @property
    def short(self) -> str:
        """Short label, e.g. 'flow 3 up'."""
        return f"flow {self.flow_id} {self.tag}"

    @property
    def label(self) -> str:
        """Full label, e.g. 'flow 3 up 192.168.2.2:53671 -> 203.0.113.10:443'."""
        return f"{self.short} {self.src} -> {self.dst}"


@dataclass(frozen=True)
class Selection:
    """The directions drawn (at most MAX_ROWS) and how many had data in total."""

    directions: list[Direction]
    total: int
    t_end: float

    @property
    def note(self) -> str:
        """Title note when not every direction is drawn."""
        if self.total <= len(self.directions):
            return ""
        return f"{len(self.directions)} of {self.total} flow directions with data, largest by bytes"


def endpoint(addr: str, port: int) -> str:
    """'addr:port', with IPv6 addresses in brackets."""
    return f"[{addr}]:{port}" if ":" in addr else f"{addr}:{port}"


def key_expr(from_client: pl.Expr) -> pl.Expr:
    """Direction key expression: 2*flow_id + from_client."""
    return (pl.col("flow_id").cast(pl.Int64) * 2 + from_client.cast(pl.Int64)).alias("_key")


def data_segments(segments: pl.DataFrame) -> pl.DataFrame:
    """Data segments (seg_class not null, known direction and sequence) with their direction key."""
    ok = (
        pl.col("seg_class").is_not_null()
        & pl.col("from_client").is_not_null()
        & pl.col("rel_seq").is_not_null()
    )
    return segments.filter(ok).with_columns(key_expr(pl.col("from_client")))


def receiver_packets(segments: pl.DataFrame) -> pl.DataFrame:
    """Packets keyed by the direction whose data they acknowledge (the reverse direction)."""
    return segments.with_columns(key_expr(~pl.col("from_client")))


_FLOW_COLS = {
    "bytes": ("_fbytes", pl.Int64),
    "sender_is_device": ("_dev", pl.Boolean),
    "handshake_seen": ("_hs", pl.Boolean),
}


def _flow_info(flows: pl.DataFrame) -> pl.DataFrame:
    """Per sending side: key, bytes, sender_is_device, handshake_seen from flows (null when absent)."""
    if flows.height == 0 or "flow_id" not in flows.columns or "sender" not in flows.columns:
        return pl.DataFrame(schema={"_key": pl.Int64, **{a: t for a, t in _FLOW_COLS.values()}})
    cols = [key_expr(pl.col("sender") == "client")]
    for name, (alias, dtype) in _FLOW_COLS.items():
        col = pl.col(name).cast(dtype) if name in flows.columns else pl.lit(None, dtype)
        cols.append(col.alias(alias))
    return flows.select(cols).unique("_key", keep="first")


def select_directions(segments: pl.DataFrame, flows: pl.DataFrame, max_rows: int = MAX_ROWS) -> Selection:
    """Directions with data, the max_rows largest by bytes, ordered by flow id (client side first)."""
    t_end = float(segments["t"].max()) if segments.height else 0.0
    data = data_segments(segments)
    if data.height == 0:
        return Selection([], 0, t_end)
    per = (
        data.group_by("_key")
        .agg(
            pl.col("flow_id").first(),
            pl.col("from_client").first(),
            pl.col("src", "dst", "sport", "dport").first(),
            pl.col("len").cast(pl.Int64).sum().alias("_sbytes"),
        )
        .join(_flow_info(flows), on="_key", how="left")
        .with_columns(pl.coalesce("_fbytes", "_sbytes").alias("_bytes"))
        .sort(["_bytes", "_key"], descending=[True, False])
    )
    chosen = per.head(max_rows).sort(["flow_id", "from_client"], descending=[False, True])
    dirs = []
    for r in chosen.iter_rows(named=True):
        if r["_dev"] is None:
            tag = "c->s" if r["from_client"] else "s->c"
        else:
            tag = "up" if r["_dev"] else "down"
        dirs.append(
            Direction(
                flow_id=int(r["flow_id"]),
                from_client=bool(r["from_client"]),
                tag=tag,
                src=endpoint(r["src"], r["sport"]),
                dst=endpoint(r["dst"], r["dport"]),
                bytes=int(r["_bytes"]),
                window_scaled=r["_hs"] is not False,
            )
        )
    return Selection(dirs, per.height, t_end)
