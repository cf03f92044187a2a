"""Link layer: per frame, where the IP header starts, its version, and the outermost VLAN id."""

from __future__ import annotations

import numpy as np
from numba import njit

from tcpscope.decode._bytes import be16, u32

# Skip reasons (index into REASONS); 0 means "TCP packet decoded".
TCP, NON_IP, NON_TCP, TRUNCATED, MALFORMED, UNSUPPORTED = range(6)
REASONS = ("tcp", "non_ip", "non_tcp", "truncated", "malformed", "unsupported_linktype")

SUPPORTED_LINKTYPES = frozenset({0, 1, 12, 14, 101, 108, 113, 276, 228, 229})


@njit(cache=True, inline="always")
def _ethertype_version(et):
    """IP version for an ethertype (0 when not IP)."""
    if et == 0x0800:
        return 4
    if et == 0x86DD:
        return 6
    return 0


@njit(cache=True)
def link_kernel(buf, offset, caplen, linktype, net_off, ipver, vlan, reason):
    """Fill net_off / ipver / vlan (-1 untagged) / reason (nonzero = skip) for every frame."""
    for i in range(offset.size):
        p = offset[i]
        end = p + caplen[i]
        lt = linktype[i]
        v = -1
        et = -1
        q = p
        ver = 0
        r = TCP
        if lt == 1 or lt == 113 or lt == 276:
            hl = 14 if lt == 1 else (16 if lt == 113 else 20)
            if end - p < hl:
                r = TRUNCATED
            else:
                et = be16(buf, p + 12) if lt == 1 else (be16(buf, p + 14) if lt == 113 else be16(buf, p))
                q = p + hl
                while et == 0x8100 or et == 0x88A8 or et == 0x9100:
                    if q + 4 > end:
                        r = TRUNCATED
                        break
                    if v < 0:
                        v = be16(buf, q) & 0xFFF
                    et = be16(buf, q + 2)
                    q += 4
                if r == TCP:
                    ver = _ethertype_version(et)
        elif lt == 101 or lt == 12 or lt == 14 or lt == 228 or lt == 229:
            if end - p < 1:
                r = TRUNCATED
            else:
                ver = np.int64(buf[p]) >> 4
                if lt == 228 and ver != 4 or lt == 229 and ver != 6:
                    ver = 0
                if ver != 4 and ver != 6:
                    ver = 0
        elif lt == 0 or lt == 108:
            if end - p < 4:
                r = TRUNCATED
            else:
                fam = u32(buf, p, False)
                if fam > 0xFFFF:
                    fam = u32(buf, p, True)
                q = p + 4
                if fam == 2:
                    ver = 4
                elif fam == 24 or fam == 28 or fam == 30:
                    ver = 6
        else:
            r = UNSUPPORTED
        if r == TCP and ver == 0:
            r = NON_IP
        net_off[i] = q
        ipver[i] = ver
        vlan[i] = v
        reason[i] = r


def link_layer(buf: np.ndarray, offset: np.ndarray, caplen: np.ndarray, linktype: np.ndarray
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Run the link kernel over all frames; return (net_off, ipver, vlan, reason)."""
    n = offset.size
    net_off = np.empty(n, np.int64)
    ipver = np.empty(n, np.int64)
    vlan = np.empty(n, np.int64)
    reason = np.empty(n, np.int64)
    link_kernel(buf, offset, caplen, linktype.astype(np.int64), net_off, ipver, vlan, reason)
    return net_off, ipver, vlan, reason
