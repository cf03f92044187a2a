"""The `packets` table: its polars schema and its assembly from numpy columns."""

from __future__ import annotations

import numpy as np
import polars as pl
import pyarrow as pa

PACKETS_SCHEMA: dict[str, pl.DataType] = {
    "frame": pl.UInt32,
    "ts_ns": pl.Int64,
    "iface": pl.UInt16,
    "linktype": pl.UInt16,
    "vlan": pl.UInt16,
    "ip_version": pl.UInt8,
    "src": pl.Utf8,
    "dst": pl.Utf8,
    "sport": pl.UInt16,
    "dport": pl.UInt16,
    "seq": pl.UInt32,
    "ack": pl.UInt32,
    "flags": pl.UInt16,
    "win": pl.UInt16,
    "len": pl.UInt32,
    "ip_id": pl.UInt32,
    "ttl": pl.UInt8,
    "opt_mss": pl.UInt16,
    "opt_wscale": pl.UInt8,
    "opt_sackok": pl.Boolean,
    "opt_tsval": pl.UInt32,
    "opt_tsecr": pl.UInt32,
    "sack_left": pl.List(pl.UInt32),
    "sack_right": pl.List(pl.UInt32),
    "opts_complete": pl.Boolean,
}

_ARROW = {pl.UInt8: pa.uint8(), pl.UInt16: pa.uint16(), pl.UInt32: pa.uint32(), pl.Int64: pa.int64()}


def empty_packets() -> pl.DataFrame:
    """A packets frame with no rows and the exact schema."""
    return pl.DataFrame(schema=PACKETS_SCHEMA)


def column(name: str, values: np.ndarray, valid: np.ndarray | None = None) -> pl.Series:
    """One numeric column of the schema's dtype; rows where valid is False become null."""
    dtype = PACKETS_SCHEMA[name]
    data = np.ascontiguousarray(values.astype(_numpy_dtype(dtype), copy=False))
    if valid is None:
        return pl.Series(name, data)
    # Arrow buffers directly: pa.array() would import pandas (0.5 s) just to check the input type
    bitmap = pa.py_buffer(np.packbits(valid, bitorder="little"))
    return pl.Series(name, pa.Array.from_buffers(_ARROW[dtype], data.size, [bitmap, pa.py_buffer(data)]))


def list_column(name: str, offsets: np.ndarray, values: np.ndarray) -> pl.Series:
    """A List(UInt32) column from Arrow-style offsets and flat values."""
    flat = np.ascontiguousarray(values.astype(np.uint32, copy=False))
    offs = np.ascontiguousarray(offsets.astype(np.int32, copy=False))
    child = pa.Array.from_buffers(pa.uint32(), flat.size, [None, pa.py_buffer(flat)])
    arr = pa.ListArray.from_buffers(pa.list_(pa.uint32()), offs.size - 1, [None, pa.py_buffer(offs)], children=[child])
    return pl.Series(name, arr).cast(PACKETS_SCHEMA[name])


def _numpy_dtype(dtype: pl.DataType) -> type:
    """numpy dtype matching a polars numeric dtype."""
    return {pl.UInt8: np.uint8, pl.UInt16: np.uint16, pl.UInt32: np.uint32, pl.Int64: np.int64}[dtype]
