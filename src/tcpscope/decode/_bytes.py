"""Compiled big/little-endian integer readers over a np.uint8 buffer (shared by the kernels)."""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, inline="always")
def u16(buf, p, be):
    """Read an unsigned 16-bit integer at p in the given byte order, as int64."""
    a = np.int64(buf[p])
    b = np.int64(buf[p + 1])
    return (a << 8) | b if be else (b << 8) | a


@njit(cache=True, inline="always")
def u32(buf, p, be):
    """Read an unsigned 32-bit integer at p in the given byte order, as int64."""
    a = np.int64(buf[p])
    b = np.int64(buf[p + 1])
    c = np.int64(buf[p + 2])
    d = np.int64(buf[p + 3])
    if be:
        return (a << 24) | (b << 16) | (c << 8) | d
    return (d << 24) | (c << 16) | (b << 8) | a


@njit(cache=True, inline="always")
def be16(buf, p):
    """Read a network-order unsigned 16-bit integer at p, as int64."""
    return (np.int64(buf[p]) << 8) | np.int64(buf[p + 1])


@njit(cache=True, inline="always")
def be32(buf, p):
    """Read a network-order unsigned 32-bit integer at p, as int64."""
    return (np.int64(buf[p]) << 24) | (np.int64(buf[p + 1]) << 16) | (np.int64(buf[p + 2]) << 8) | np.int64(buf[p + 3])
