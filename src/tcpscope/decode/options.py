"""TCP options (MSS, window scale, SACK-permitted, SACK blocks, timestamps), parsed in a compiled loop."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit

from tcpscope.decode._bytes import be16, be32
from tcpscope.decode.headers import gather_be32

MAX_SACK = 4


@njit(cache=True)
def options_kernel(buf, tcp_off, thl, cap_end, mss, wscale, sackok, tsval, tsecr, nsack, sack, complete, present):
    """Parse the options of every TCP header; present bits 1/2/4 = MSS/wscale/TS seen; complete=False when cut.

    SACK blocks are returned as (count, byte offset of the first edge); the edges are gathered later.
    """
    for i in range(tcp_off.size):
        mss[i] = 0
        wscale[i] = 0
        sackok[i] = False
        tsval[i] = 0
        tsecr[i] = 0
        nsack[i] = 0
        sack[i] = 0
        bits = 0
        t = tcp_off[i]
        hend = t + thl[i]
        end = cap_end[i]
        complete[i] = hend <= end
        lim = hend if hend < end else end
        q = t + 20
        while q < lim:
            kind = np.int64(buf[q])
            if kind == 0:
                break
            if kind == 1:
                q += 1
                continue
            if q + 1 >= lim:
                break
            olen = np.int64(buf[q + 1])
            if olen < 2 or q + olen > hend:
                break  # malformed option list: stop, as Wireshark does
            if q + olen > end:
                complete[i] = False
                break
            if kind == 2 and olen == 4:
                mss[i] = be16(buf, q + 2)
                bits |= 1
            elif kind == 3 and olen == 3:
                wscale[i] = buf[q + 2]
                bits |= 2
            elif kind == 4 and olen == 2:
                sackok[i] = True
            elif kind == 8 and olen == 10:
                tsval[i] = be32(buf, q + 2)
                tsecr[i] = be32(buf, q + 6)
                bits |= 4
            elif kind == 5 and olen >= 10 and (olen - 2) % 8 == 0:
                k = (olen - 2) // 8
                nsack[i] = k if k < 4 else 4
                sack[i] = q + 2
            q += olen
        present[i] = bits


@dataclass
class Options:
    """Parsed option columns for a set of TCP headers (values valid where the has_* mask is set)."""

    mss: np.ndarray  # uint16
    wscale: np.ndarray  # uint8
    sackok: np.ndarray  # bool
    tsval: np.ndarray  # uint32
    tsecr: np.ndarray  # uint32
    nsack: np.ndarray  # int32: SACK blocks (0..4)
    sack: np.ndarray  # int64: byte offset of the first SACK edge (valid when nsack > 0)
    complete: np.ndarray  # bool
    present: np.ndarray  # uint8 bits: 1 MSS, 2 window scale, 4 timestamps

    @property
    def has_mss(self) -> np.ndarray:
        """MSS option seen."""
        return (self.present & 1) != 0

    @property
    def has_wscale(self) -> np.ndarray:
        """Window-scale option seen."""
        return (self.present & 2) != 0

    @property
    def has_ts(self) -> np.ndarray:
        """Timestamps option seen."""
        return (self.present & 4) != 0


def tcp_options(buf: np.ndarray, tcp_off: np.ndarray, thl: np.ndarray, cap_end: np.ndarray) -> Options:
    """Run the options kernel over all TCP headers."""
    n = tcp_off.size
    o = Options(np.empty(n, np.uint16), np.empty(n, np.uint8), np.empty(n, np.bool_), np.empty(n, np.uint32),
                np.empty(n, np.uint32), np.empty(n, np.int32), np.empty(n, np.int64), np.empty(n, np.bool_),
                np.empty(n, np.uint8))
    options_kernel(buf, tcp_off, thl, cap_end, o.mss, o.wscale, o.sackok, o.tsval, o.tsecr, o.nsack,
                   o.sack, o.complete, o.present)
    return o


def sack_lists(buf: np.ndarray, o: Options) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Flattened SACK left/right edges and list offsets (for Arrow list columns), gathered vectorised."""
    counts = o.nsack
    offsets = np.zeros(counts.size + 1, np.int32)
    np.cumsum(counts, out=offsets[1:])
    total = int(offsets[-1])
    if total == 0:
        return offsets, np.zeros(0, np.uint32), np.zeros(0, np.uint32)
    rows = np.repeat(np.arange(counts.size), counts)
    k = np.arange(total) - offsets[rows]
    pos = o.sack[rows] + 8 * k
    return offsets, gather_be32(buf, pos), gather_be32(buf, pos + 4)
