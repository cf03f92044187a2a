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

#: Why a data segment has its class (`segments.seg_basis`): the rule that set it last, in the
#: walk's terms (docs/classification.md, "Why a segment has its class"). Codes index this tuple.
BASIS_NAMES: tuple[str, ...] = (
    # new
    "above_highest",  # starts at or above the highest byte seen
    "behind_pure_ack",  # fills a gap a pure ACK opened, and was sent before that ACK
    "id_gap_explained",  # first taken for a hidden original's re-send; then the ID gap had another cause
    "paws_overtaken",  # discarded by PAWS, a first transmission overtaken by the hole's opener
    # reordered
    "filled_hole_early",  # fills a hole and was sent before the segment that opened it
    "passed",  # sender's side: reported missing beside a SACKed later segment, then acknowledged, never re-sent
    "passed_resend_needless",  # the same, re-sent, and the re-send shown needless
    # retransmission
    "filled_hole_late",  # fills a hole and was sent after the segment that opened it
    "resent",  # sender's side: bytes it had sent before, no evidence the re-send was needless
    "sent_before_capture",  # receiver's side: below the first byte seen, not yet acknowledged
    "paws_resend",  # discarded by PAWS, a re-send (sent after the hole's opener)
    "hidden_original",  # receiver's side: its sender's ID gap shows its first copy lost upstream
    "lost_above",  # receiver's side: re-sends a segment lost above the bytes seen
    "lost_reply",  # receiver's side: a reply lost upstream, re-sent after a timeout
    "more_missing_ids",  # receiver's side: more IDs missing than answers could take
    "unaccounted_gap",  # receiver's side: at the next byte expected, after IDs missing that no later re-send fits
    # spurious_retransmission
    "acked_before",  # sender's side: the peer had acknowledged the bytes already
    "window_drop",  # sender's side: a copy arrived and was discarded for want of buffer
    "seen_before",  # receiver's side: re-sends bytes the capture saw arrive
    "eifel",  # sender's side: the first ACK covering it echoes an earlier copy's TSval (RFC 3522)
    "acked_too_soon",  # sender's side, no timestamps or SACK: ACKed sooner than 0.8 x the minimum RTT
    "dsack",  # sender's side: a D-SACK reported all its bytes (RFC 2883)
    "sacked_too_soon",  # sender's side: SACKed sooner than 0.7 of the path's smallest RTT after it left
    "answer_count",  # sender's side: the receiver's IP IDs count fewer answers than copies
    "dsack_first_segment",  # sender's side: the first segment seen, D-SACKed with its own TSval
    "dsack_at_receiver",  # receiver's side: answered at once with a D-SACK of all of it
    "outage",  # sender's side: an earlier copy of bytes D-SACKed after an outage that took all later data
    # network_duplicate, keepalive, window_probe
    "duplicate",  # same start, length, TSval and IP ID as an earlier packet
    "probe",  # a keep-alive or a zero-window probe
)
(
    B_ABOVE_HIGHEST, B_BEHIND_PURE_ACK, B_ID_GAP_EXPLAINED, B_PAWS_OVERTAKEN,
    B_FILLED_HOLE_EARLY, B_PASSED, B_PASSED_RESEND_NEEDLESS,
    B_FILLED_HOLE_LATE, B_RESENT, B_SENT_BEFORE_CAPTURE, B_PAWS_RESEND, B_HIDDEN_ORIGINAL, B_LOST_ABOVE,
    B_LOST_REPLY, B_MORE_MISSING_IDS, B_UNACCOUNTED_GAP,
    B_ACKED_BEFORE, B_WINDOW_DROP, B_SEEN_BEFORE, B_EIFEL, B_ACKED_TOO_SOON, B_DSACK, B_SACKED_TOO_SOON,
    B_ANSWER_COUNT, B_DSACK_FIRST_SEGMENT, B_DSACK_AT_RECEIVER, B_OUTAGE,
    B_DUPLICATE, B_PROBE,
) = range(len(BASIS_NAMES))

#: Bases of retransmissions the walk inferred from packets the capture point did not see (gaps
#: in the sender's IP IDs, at the receiver's side): `n_retransmission_inferred` counts them.
INFERRED_BASES: tuple[str, ...] = (
    "hidden_original", "lost_above", "lost_reply", "more_missing_ids", "unaccounted_gap",
)

#: The class(es) a basis gives: a walk that changes a class without naming its reason fails this.
BASIS_CLASSES: dict[str, tuple[str, ...]] = {
    **dict.fromkeys(BASIS_NAMES[B_ABOVE_HIGHEST:B_FILLED_HOLE_EARLY], ("new",)),
    **dict.fromkeys(BASIS_NAMES[B_FILLED_HOLE_EARLY:B_FILLED_HOLE_LATE], ("reordered",)),
    **dict.fromkeys(BASIS_NAMES[B_FILLED_HOLE_LATE:B_ACKED_BEFORE], ("retransmission",)),
    **dict.fromkeys(BASIS_NAMES[B_ACKED_BEFORE:B_DUPLICATE], ("spurious_retransmission",)),
    "duplicate": ("network_duplicate",),
    "probe": ("keepalive", "window_probe"),
}
