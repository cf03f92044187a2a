"""The names the tables use for classes: `segments.seg_class` (codes emitted by tcpscope.tcpstate)
and `stalls.cause` / `stalls.group` (tcpscope.stalls). Kept apart from the compiled walks so that
figures and metric tables need not import numba."""

from __future__ import annotations

# class codes (index into CLASS_NAMES)
NEW, RETRANSMISSION, SPURIOUS, REORDERED, NET_DUP, KEEPALIVE, WINDOW_PROBE = 0, 1, 2, 3, 4, 5, 6
CLASS_NAMES = (
    "new",
    "retransmission",
    "spurious_retransmission",
    "reordered",
    "network_duplicate",
    "keepalive",
    "window_probe",
)

#: Causes in rule order (first match wins); docs/stalls.md.
CAUSES: tuple[str, ...] = (
    "data_unavailable",
    "zero_window",
    "packet_delay",
    "retrans_small_init_window",
    "tail_retransmission",
    "client_idle",
    "small_cwnd_retransmission",
    "small_rwnd_retransmission",
    "double_retransmission",
    "spurious_retransmission",
    "continuous_loss",
    "other_retransmission",
    "resource_constraint",
    "unknown",
)
#: Where a stall's cause lies.
GROUPS: tuple[str, ...] = ("client", "server", "network", "unknown")
