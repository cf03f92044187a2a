"""The per-connection TCP state walk: segment classes, bytes in flight and RTT samples.

One compiled pass over each connection's packets in capture order keeps, per sending
side, the highest sequence seen, the holes below it (with the segment that opened each),
the peer's cumulative ACK, SACK scoreboard and window, and a queue of unacknowledged
segments for Karn-valid RTT samples. The rules are documented in docs/classification.md.
Everything here is numba-compiled: no per-packet Python.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from tcpscope.classes import (  # noqa: F401 - re-exported: the walk emits these codes
    B_ACKED_BEFORE,
    B_ACKED_TOO_SOON,
    B_ANSWER_COUNT,
    B_BEHIND_PURE_ACK,
    B_DSACK,
    B_DSACK_AT_RECEIVER,
    B_DSACK_FIRST_SEGMENT,
    B_DUPLICATE,
    B_EIFEL,
    B_FILLED_HOLE_EARLY,
    B_FILLED_HOLE_LATE,
    B_HIDDEN_ORIGINAL,
    B_ID_GAP_EXPLAINED,
    B_LOST_ABOVE,
    B_LOST_REPLY,
    B_MORE_MISSING_IDS,
    B_OUTAGE,
    B_UNACCOUNTED_GAP,
    B_ABOVE_HIGHEST,
    B_PASSED,
    B_PASSED_RESEND_NEEDLESS,
    B_PAWS_OVERTAKEN,
    B_PAWS_RESEND,
    B_PROBE,
    B_RESENT,
    B_SACKED_TOO_SOON,
    B_SEEN_BEFORE,
    B_SENT_BEFORE_CAPTURE,
    B_WINDOW_DROP,
    BASIS_NAMES,
    CLASS_NAMES,
    KEEPALIVE,
    NET_DUP,
    NEW,
    REORDERED,
    RETRANSMISSION,
    SPURIOUS,
    WINDOW_PROBE,
)

SYN, FIN, RST, ACK = 0x02, 0x01, 0x04, 0x10
_CACHE = 4096  # direct-mapped caches (duplicate detection, TSval first-seen times)
# an ACK that covers a retransmission sooner than this fraction of the minimum RTT
# cannot have been caused by it: the original got through (spurious retransmission)
SPURIOUS_RTT_FRACTION = 0.8
# at the receiver side a hole filled sooner than this fraction of the minimum RTT is
# reordering; later it is a retransmission of a segment lost upstream
REORDER_RTT_FRACTION = 0.75
# a SACK of re-sent bytes sooner than this fraction of the path's smallest RTT after the re-send
# was caused by an earlier copy (RFC 8985 6.2 and Linux's tcp_rack_advance() use the whole
# minimum RTT; less, for jitter: over the lab sets needless re-sends were SACKed at up to 0.57
# of it, needed ones at 0.84 or more, and 0.7 splits them). The smallest RTT is the flow's own
# (handshake and samples) or the smallest handshake RTT between the same two hosts in the
# capture, whichever is less: a connection opened behind a full queue overstates its own (a lab
# upload had needed re-sends SACKed at 0.30-0.45 of its own minimum, 0.93-1.3 of the path's;
# docs/classification.md)
SACK_TOO_SOON = 0.7
DEFAULT_RTT_S = 0.01  # used for the time rule when no RTT is known yet


@njit(cache=True, inline="always")
def _s32(x: np.int64) -> np.int64:
    x = x & 0xFFFFFFFF
    return x - 0x100000000 if x >= 0x80000000 else x


@njit(cache=True, inline="always")
def _s16(x: np.int64) -> np.int64:
    x = x & 0xFFFF
    return x - 0x10000 if x >= 0x8000 else x


@njit(cache=True)
def _grow(a: np.ndarray) -> np.ndarray:
    b = np.empty((a.shape[0] * 2, a.shape[1]), dtype=a.dtype)
    b[: a.shape[0]] = a
    return b


@njit(cache=True)
def _push_hole(holes: np.ndarray, n: np.int64, lo: np.int64, hi: np.int64, row: np.int64) -> np.ndarray:
    """Write the hole [lo, hi) opened by `row` at index n (growing the array when full); the array."""
    if n == holes.shape[0]:
        holes = _grow(holes)
    holes[n, 0] = lo
    holes[n, 1] = hi
    holes[n, 2] = row
    return holes


@njit(cache=True, inline="always")
def _rtt(min_rtt: float) -> float:
    """The minimum RTT measured so far, or DEFAULT_RTT_S before the first sample."""
    return min_rtt if np.isfinite(min_rtt) else DEFAULT_RTT_S


@njit(cache=True)
def _path_floor(min_rtt: float, path_rtt: float) -> float:
    """The smallest round trip known between the two hosts: a side's minimum RTT so far, or the
    smallest handshake RTT between them in the capture when that is smaller (NaN: neither)."""
    if not np.isfinite(path_rtt):
        return min_rtt
    if not np.isfinite(min_rtt):
        return path_rtt
    return min(min_rtt, path_rtt)


@njit(cache=True)
def _sent_before(
    i: np.int64, r: np.int64, tsval: np.ndarray, ipid: np.ndarray, t: np.ndarray, ts_ok: bool, ipid_ok: bool,
    min_rtt: float,
) -> bool:
    """Was row i sent before row r of the same side (a hole filler before the hole's opener: so
    reordered)? By TSval, else IP ID, else arrival within REORDER_RTT_FRACTION of the minimum RTT."""
    if ts_ok and tsval[i] >= 0 and tsval[r] >= 0 and tsval[i] != tsval[r]:
        return _s32(tsval[i] - tsval[r]) < 0
    if ipid_ok and ipid[i] >= 0 and ipid[r] >= 0 and ipid[i] != ipid[r]:
        return _s16(ipid[i] - ipid[r]) < 0
    return (t[i] - t[r]) < REORDER_RTT_FRACTION * _rtt(min_rtt)


@njit(cache=True)
def _covered(sb: np.ndarray, nsb: np.int64, lo: np.int64, hi: np.int64) -> bool:
    """Is [lo, hi) inside one interval of the (merged, sorted) SACK scoreboard?"""
    for j in range(nsb):
        if sb[j, 0] <= lo and hi <= sb[j, 1]:
            return True
    return False


@njit(cache=True)
def _paws_discards(sender_side: bool, ts_ok: bool, tsval: np.int64, ts_recent: np.int64) -> bool:
    """At the receiver's side: would PAWS (RFC 7323 5.3; Linux: older by more than 1) drop it?"""
    return (not sender_side) and ts_ok and tsval >= 0 and ts_recent >= 0 and _s32(ts_recent - tsval) > 1


@njit(cache=True)
def _hole_opener(holes: np.ndarray, nholes: np.int64, s: np.int64, e: np.int64) -> np.int64:
    """The row that opened the first hole [s, e) overlaps, or -1 when it overlaps none."""
    for j in range(nholes):
        if holes[j, 0] < e and holes[j, 1] > s:
            return holes[j, 2]
    return -1


@njit(cache=True)
def _original(q: np.ndarray, qh: np.int64, qt: np.int64, rel_seq: np.ndarray, s: np.int64, e: np.int64) -> np.int64:
    """Row of the unacknowledged first transmission that a re-send of [s, e) repeats, or -1
    (also when that transmission was re-sent before: a later needless copy says nothing of it)."""
    for x in range(qh, qt):
        if rel_seq[q[x, 1]] >= e:
            break
        if q[x, 0] > s:
            return q[x, 1] if q[x, 2] == 0 else -1
    return -1


MAX_IPID_GAP = 64  # more missing IDs than this is not a few lost segments (counter jump, other stack)
OUTAGE_MAX_IPID_GAP = 1024  # ... except after a timeout, up to this many (_lost_original)


@njit(cache=True, inline="always")
def _ids_missing(ipid: np.int64, p_ipid: np.int64, limit: np.int64 = MAX_IPID_GAP) -> np.int64:
    """How many of a side's IP IDs are missing between its highest so far and this one: 1 to
    `limit`, else 0 (IDs unknown, none missing, or a counter jump)."""
    if ipid < 0 or p_ipid < 0:
        return 0
    missing = ((ipid - p_ipid) & 0xFFFF) - 1
    return missing if 1 <= missing <= limit else 0


# Linux's smallest retransmission timeout (RFC 6298 asks for 1 s): a re-send sooner than this after
# the sender's previous packet is a tail-loss probe, which comes once and only for one lost segment
MIN_RTO_S = 0.2
DELACK_MIN_S = 0.04  # Linux's smallest delayed-ACK time (TCP_DELACK_MIN): a reply sent sooner carries the ACK
AT_ONCE_MIN = 2  # replies sent at once before a side counts as one that answers at once (_lost_reply)
PROBE_MAX_MISSING = 2  # so before a probe no more than the original (and one packet more) is missing


@njit(cache=True)
def _lost_original(
    sender_side: bool, step1: bool, ipid: np.int64, p_ipid: np.int64, has_ack: bool, ack: np.int64,
    p_ack: np.int64, t: float, p_t: float, o_data_t: float, min_rtt: float, hole: np.int64,
) -> bool:
    """At the receiver's side, is this in-order segment the re-send of an original lost upstream?

    The sender numbers its packets 1, 2, 3 (ipid_step1) and some are missing just before this one.
    They were not ACKs: this segment acknowledges nothing new, and the receiver side sent no data
    since the sender's previous packet (nothing to ACK, no duplicate ACKs). They were not new data
    either: those would leave a sequence hole, and this segment starts exactly at the next byte
    expected. So a missing packet carried these bytes, and this is its re-send, sent at least a
    round trip later (RTO or tail-loss probe). Without this rule a lost last segment (a chat
    message, a transfer's tail) looks new at the receiver's side: no duplicate ever shows."""
    if sender_side or not step1 or not has_ack or p_ack < 0 or ack != p_ack:
        return False
    # after a timeout, more than MAX_IPID_GAP IDs of a per-connection counter are the packets of
    # an outage: the window, its probes and earlier timer re-sends (seed 427: 84 after 1.6 s)
    limit = OUTAGE_MAX_IPID_GAP if t - p_t >= MIN_RTO_S else MAX_IPID_GAP
    missing = _ids_missing(ipid, p_ipid, limit) - hole
    if missing <= 0:
        return False
    if o_data_t > p_t:
        return False
    if missing > PROBE_MAX_MISSING and t - p_t < MIN_RTO_S:
        return False  # too soon for an RTO, too many missing for a loss probe: a shared counter
    # a timer fired: at least a round trip, and never less than DEFAULT_RTT_S (Linux's smallest
    # tail-loss probe timeout is 10 ms; it also keeps a coarse capture clock from passing this test)
    return t - p_t >= max(_rtt(min_rtt), DEFAULT_RTT_S)


@njit(cache=True)
def _lost_reply(
    sender_side: bool, step1: bool, ipid: np.int64, p_ipid: np.int64, has_ack: bool, ack: np.int64,
    p_ack: np.int64, o_end: np.int64, t: float, tsecr: np.int64, ts_seen: np.ndarray, ts_time: np.ndarray,
    p_t: float, min_rtt: float, o_resent_end: np.int64, o_resent_t: float, at_once: bool, alone: bool,
) -> bool:
    """At the receiver's side, is this in-order segment, which acknowledges the receiver's latest
    message, the re-send of a reply lost upstream?

    The lost-tail rule (`_lost_original`) declines when the segment acknowledges new bytes: the
    missing packet may then have been a pure ACK of them. A reply sent at once carries that ACK
    itself; when it is lost the receiver hears nothing, and the reply's re-send comes a timeout
    later, still echoing the message's TSval. So: 1 or 2 of the sender's IDs are missing (the
    reply, and perhaps its loss probe), the segment acknowledges all the receiver's data, echoes
    a packet the receiver sent after the sender's previous packet, and comes at least a round
    trip (`min_rtt`: the receiver's data's, from the capture point) plus Linux's smallest RTO
    after that packet, which is the sender's smoothed RTT (no less than the minimum) plus
    MIN_RTO_S (seeds 48, 81, 106, 110, 179, 180: the phone's next message 281-298 ms after the
    server's reply, a round trip plus 200 ms and more, but not two); and the receiver, never
    acknowledged, has re-sent the end of its message since. A lost pure ACK before a new message
    the application held that long differs there: its receiver had its ACK in time, or would
    have re-sent. Or, when the receiver's timer has not fired yet (it backs off, and the
    sender's may fire first), the sender answers at once (`at_once`): AT_ONCE_MIN of its earlier
    segments first acknowledged the receiver's data within a round trip plus DELACK_MIN_S of it,
    so a pure ACK then a reply held for a timeout would be unlike it (seeds 110, 175, 186, 197,
    220: a chat server's reply lost, re-sent before the phone re-sent its message). A sender that
    does not answer at once and first acknowledged the receiver's data with a pure ACK
    AT_ONCE_MIN times (`alone`) may have lost just such an ACK: the receiver's re-send shows
    only that its ACK never came (seeds 395, 400, 419, 500, 546, 560, 574, 584: at the server's
    side of a chat, the phone's pure ACK and its D-SACK of the server's reply re-send lost, then
    the phone's next message). Two missing IDs are the reply and its probe only when the segment
    comes an RTO after the probe, itself sent 2 SRTT after the reply (plus MIN_RTO_S for a lone
    segment), or at the reply's RTO if sooner (Linux's tcp_schedule_loss_probe; the probe
    restarts the timer)."""
    if sender_side or not step1 or not has_ack or p_ack < 0 or ack <= p_ack or ack != o_end:
        return False
    if not at_once and (o_resent_end != ack or alone):
        return False
    missing = _ids_missing(ipid, p_ipid)
    if missing == 0 or missing > PROBE_MAX_MISSING or tsecr < 0:
        return False
    # when the receiver's packet with the echoed TSval was first seen
    h = tsecr & (_CACHE - 1)
    if ts_seen[h] != tsecr:
        return False
    t_echo = ts_time[h]
    if not (t_echo > p_t and (at_once or o_resent_t > t_echo)):
        return False
    rtt = _rtt(min_rtt)
    need = 2 * rtt + MIN_RTO_S
    if missing == 2:
        need += min(2 * rtt, rtt + MIN_RTO_S)  # the probe's wait, at the least
    return t - t_echo >= need


_ANSWERABLE_LOOKBACK = 64  # rows _more_missing_than_answers looks back over


@njit(cache=True)
def _sent_last_before(row: np.int64, a: np.int64, d: np.int64, side: np.ndarray, ipid: np.ndarray) -> np.int64:
    """Side d's packet with an IP ID seen last before `row` (-1: none within
    _ANSWERABLE_LOOKBACK rows): its previous packet as the lost-reply rule reads it, when a packet
    sent after this one arrived first."""
    for r in range(row - 1, max(a, row - _ANSWERABLE_LOOKBACK) - 1, -1):
        if side[r] == d and ipid[r] >= 0:
            return r
    return -1


@njit(cache=True)
def _more_missing_than_answers(
    sender_side: bool, step1: bool, i: np.int64, a: np.int64, d: np.int64, side: np.ndarray, t: np.ndarray,
    plen: np.ndarray, flags: np.ndarray, ipid: np.int64, p_ipid: np.int64, has_ack: bool, ack: np.int64,
    p_ack: np.int64, p_t: float, floor: float, below: np.int64, own_acked: bool, rel_seq: np.ndarray,
    tsval: np.ndarray, tsecr: np.int64,
) -> bool:
    """At the receiver's side, is this in-order segment, which acknowledges the receiver's data,
    the re-send of a copy hidden among more missing IDs than the receiver's packets could have
    drawn answers? The lost-reply rule reads one or two missing IDs, which may all be answers.
    With three or more, each of the receiver's data packets sent after the sender's previous one
    and a round trip before this one (`floor`) drew at most one; when the missing IDs outnumber
    those, the others were data, and no more than PROBE_MAX_MISSING of them (a first copy and its
    probe). Data at the next byte expected that this segment repeats was its first copy: new data
    beyond would have left a hole, and re-sends of older bytes are ruled out when the sender has
    no hole open below (`below`) and the receiver had acknowledged all it sent before (`own_acked`).
    It comes a timer after the sender's previous packet (seeds 194, 228, 332: a chat message or
    reply lost with the answers around it, three IDs missing where two were answers at most). A
    receiver's packet that starts at or below the sender's last ACK seen (`p_ack`) would have set
    the sender's TS.Recent on arrival (RFC 7323 4.3): when its TSval is newer than this segment
    echoes (`tsecr`), it had not arrived, and drew no answer (seed 741: the server's second
    re-send of a reply lost). The caller tests the wait, t[i] - p_t >= MIN_RTO_S, before the call:
    most segments fail it."""
    if sender_side or not step1 or not has_ack or p_ack < 0 or ack <= p_ack or below != 0 or not own_acked:
        return False
    missing = _ids_missing(ipid, p_ipid)
    if missing <= PROBE_MAX_MISSING or not np.isfinite(floor):
        return False
    answerable = 0
    reached = False  # the sender's previous packet, within the look-back
    for r in range(i - 1, max(a, i - _ANSWERABLE_LOOKBACK) - 1, -1):
        if t[r] <= p_t:
            reached = True
            break
        if side[r] != d and (plen[r] > 0 or (flags[r] & FIN) != 0) and t[r] <= t[i] - floor:
            if not (rel_seq[r] <= p_ack and not _heard(tsval[r], tsecr)):
                answerable += 1
    return reached and answerable < missing <= answerable + PROBE_MAX_MISSING


@njit(cache=True, inline="always")
def _timer_fires(wait: float) -> np.int64:
    """How many times a retransmission timer can have fired in `wait` seconds of silence, this
    re-send the last: it backs off, doubling from MIN_RTO_S at the least (RFC 6298 5.5), so n
    fires take MIN_RTO_S * (2^n - 1) or more (seeds 460 and 480: a 1 s blackout, two fires)."""
    if not wait >= MIN_RTO_S:
        return 0
    return np.int64(np.floor(np.log2(wait / MIN_RTO_S + 1.0)))


@njit(cache=True)
def _lost_above(
    sender_side: bool, step1: bool, ipid: np.int64, p_ipid: np.int64, top_ipid: np.int64, lower: np.int64,
    o_data_t: float, t: float, p_t: float, p_resent: bool, floor: float,
) -> np.int64:
    """At the receiver's side, a re-send of a hole comes right after a gap in its sender's IP IDs,
    and the packet before the gap was the sender's highest segment: how many packets the gap hid
    that were new data (0: none, or no such gap). A sender re-sends holes from the lowest up, so
    at most `lower` hidden packets (the segments of the holes still open below this one; -1: the
    rule does not apply) were re-sends of lower holes, lost again; none were ACKs (the receiver's
    side sent no data to acknowledge). The others were new data above the bytes seen, lost on the
    way; their re-sends start exactly at the next byte expected and look new without this. A
    re-send by the timer (MIN_RTO_S after the previous packet) comes after the fast re-send of
    the same hole, which the receiver's SACKs had asked for; it never arrived (it would have
    filled the hole), so one more hidden packet is that copy, and so may be the timer's earlier
    copies when it backed off in a longer silence (`_timer_fires`); the caller then counts the
    holes above this one in `lower` too (their fast re-sends went before the timer fired).

    The packet before the gap may also be the fast re-send of a lower hole that came right after
    the highest segment (`p_resent`, `_fast_resend_after_top`): new data may follow it at once
    (seeds 92 and 132). Then the gap may also hide an earlier copy of this hole, lost, unless this
    re-send came sooner than a round trip (`floor`) after that packet: the sender cannot have
    learnt of that loss yet. So may the re-send whose own gap this count last read, while none
    of the segments counted then has been re-sent: the caller adds this gap's to them (seed 679,
    new data sent between re-sends in SACK recovery)."""
    if sender_side or not step1 or lower < 0 or (p_ipid != top_ipid and not p_resent) or o_data_t > p_t:
        return 0
    resent = lower + 1 if t - p_t >= MIN_RTO_S or (p_resent and not t - p_t < floor) else lower
    resent += max(_timer_fires(t - p_t) - 1, 0)  # the timer's earlier copies of this hole
    return max(_ids_missing(ipid, p_ipid) - resent, 0)


_SINCE_TOP_LOOKBACK = 512  # rows _new_since_top reads back to the highest segment


@njit(cache=True, inline="always")
def _could_know(r: np.int64, g_before: np.int64, heard_after: np.int64, t: np.ndarray, tsecr: np.ndarray,
                unknown: bool) -> bool:
    """Could the sender have learnt, when it sent row r, that a packet it sent after row g_before
    (an ID gap) was lost? Only from a SACK of something sent after it, so r echoes (TSecr) the
    TSval of the receiver's first packet after the sender's next packet after the gap arrived
    (`heard_after`; -1: none before r), or a later one; or from its timer, MIN_RTO_S after
    g_before at least. Without a TSecr, `unknown`."""
    if t[r] - t[g_before] >= MIN_RTO_S:
        return True
    if tsecr[r] < 0:
        return unknown
    return heard_after >= 0 and _s32(tsecr[r] - heard_after) >= 0


@njit(cache=True)
def _first_resent_after(
    g_after: np.int64, g_before: np.int64, x_after: np.int64, w0: np.int64, i: np.int64, d: np.int64,
    side: np.ndarray, t: np.ndarray, rel_seq: np.ndarray, plen: np.ndarray, cls: np.ndarray, tsval: np.ndarray,
    tsecr: np.ndarray,
) -> np.int64:
    """The lowest bytes whose first re-send came after the gap before row g_after: a needed
    re-send at or after g_after, with no copy before the gap, that could not know of a copy lost
    in it (so the gap holds none either); the largest int64 when there is none. Linux re-sends
    the segments it marks lost lowest first, and marks one sent earlier no later (RACK, RFC 8985;
    a loss probe re-sends only the highest): so a late original above those bytes and below the
    top cannot have been re-sent in the gap (seed 608, a download's late segment SACKed before
    the sender could hear of it, and a lower hole's first re-send after the gap). `x_after`: the
    receiver's first packet after g_after (`_could_know`)."""
    low = np.iinfo(np.int64).max
    for q in range(g_after, i):
        if side[q] != d or plen[q] <= 0 or cls[q] != RETRANSMISSION or rel_seq[q] >= low:
            continue
        if _could_know(q, g_before, tsval[x_after] if 0 <= x_after < q else -1, t, tsecr, True):
            continue
        earlier = False
        for x in range(w0, g_after):
            if side[x] == d and rel_seq[x] == rel_seq[q] and (cls[x] == RETRANSMISSION or cls[x] == SPURIOUS):
                earlier = True
                break
        if not earlier:
            low = rel_seq[q]
    return low


@njit(cache=True)
def _new_since_top(
    i: np.int64, top: np.int64, a: np.int64, d: np.int64, side: np.ndarray, t: np.ndarray, rel_seq: np.ndarray,
    plen: np.ndarray, flags: np.ndarray, cls: np.ndarray, ipid: np.ndarray, tsval: np.ndarray, tsecr: np.ndarray,
    below: np.int64, win: np.ndarray,
) -> bool:
    """At the receiver's side, row i starts at the next byte expected, the first segment there
    since `top`, the sender's highest: was a packet hidden in between (a missing ID) new data at
    i's bytes, lost, so that i is its re-send? The receiver side sent no data or FIN, and no zero
    window, nor the sender a window probe or keep-alive (a hidden packet may be one: seed 622, a
    zero window's probe lost), so a hidden packet was new data or a re-send. A re-send lost
    leaves its bytes missing, and the sender re-sends them again only once it could know of that
    loss (`_could_know`: a SACK of a later packet, or its timer), needed or not. So each later
    visible re-send that could know accounts for one hidden packet; so does a late original
    (`reordered`) whose re-send shows nowhere and whose bytes the sender could then have taken
    for lost (it had heard an ACK the receiver sent while they were missing, and none sent after
    they arrived: it may have re-sent them once, needlessly), unless a lower hole was first
    re-sent after the gap (`_first_resent_after`); and each segment of the holes still open below i
    (`below`). When a hidden packet is left, the first of them was new data at i's bytes, if i
    could know of its loss (seed 424: new data sent between the re-sends of a recovery, lost,
    its re-send taken for new). Bounded: _SINCE_TOP_LOOKBACK rows on either side of the top,
    MAX_IPID_GAP IDs."""
    if top < 0 or ipid[i] < 0 or ipid[top] < 0 or i - top > _SINCE_TOP_LOOKBACK:
        return False
    span = ((ipid[i] - ipid[top]) & 0xFFFF) - 1
    if span <= 0 or span > MAX_IPID_GAP:
        return False
    w0 = max(a, top - _SINCE_TOP_LOOKBACK)
    n = i - w0 + 1
    seen = np.zeros(span, dtype=np.bool_)
    for r in range(w0, top):  # IDs that came before the top, late
        if side[r] == d and ipid[r] >= 0:
            off = (ipid[r] - ipid[top]) & 0xFFFF
            if 1 <= off <= span:
                seen[off - 1] = True
    # for each missing ID, the sender's packets just before and after it
    after = np.full(span, i, dtype=np.int64)
    before = np.full(span, top, dtype=np.int64)
    last = top
    hi = np.int64(0)  # offset of the highest ID seen so far, from the top's
    for r in range(top + 1, i):
        if side[r] != d:
            if plen[r] > 0 or (flags[r] & FIN) != 0 or win[r] == 0:
                return False  # the receiver side's data may have drawn ACKs; or the sender probed
            continue
        if ipid[r] < 0 or cls[r] == WINDOW_PROBE or cls[r] == KEEPALIVE:
            return False
        off = (ipid[r] - ipid[top]) & 0xFFFF
        if off < 1 or off > span:
            return False  # an ID out of the run: another counter, or a jump
        seen[off - 1] = True
        for g in range(hi, off - 1):
            after[g] = r
            before[g] = last
        hi = max(hi, off)
        last = r
    for g in range(hi, span):
        before[g] = last
    # the receiver's first packet (with a TSval) after each row of the window; the highest byte
    # the sender had sent, up to each row; the starts of the re-sends seen
    nxt = np.full(n, -1, dtype=np.int64)
    for x in range(i - 1, w0 - 1, -1):
        nxt[x - w0] = x + 1 if side[x + 1] != d and tsval[x + 1] >= 0 else nxt[x + 1 - w0]
    reach = np.empty(n, dtype=np.int64)
    resent = np.empty(n, dtype=np.int64)
    nres = 0
    hi_seq = np.iinfo(np.int64).min
    for x in range(w0, i + 1):
        if side[x] == d and plen[x] > 0:
            hi_seq = max(hi_seq, rel_seq[x])
            if cls[x] == RETRANSMISSION or cls[x] == SPURIOUS:
                resent[nres] = rel_seq[x]
                nres += 1
        reach[x - w0] = hi_seq
    starts = np.sort(resent[:nres])
    used = np.zeros(n, dtype=np.int64)  # hidden packets each row accounts for
    spare = below
    first = -1  # the earliest hidden packet nothing accounts for
    for g in range(span - 1, -1, -1):
        if seen[g]:
            continue
        if spare > 0:
            spare -= 1
            continue
        x = nxt[after[g] - w0]
        heard_after = tsval[x] if 0 <= x < i else -1
        heard, echo = tsecr[before[g]], tsecr[after[g]]
        low = np.iinfo(np.int64).max  # `_first_resent_after` for this gap, once a late original asks
        low_known = False
        found = False
        for r in range(w0, i):
            if side[r] != d or plen[r] <= 0:
                continue
            if used[r - w0] > 0:
                # a timer re-send right after the gap may stand for its earlier fires' copies too,
                # lost in the silence before it (seed 791: five fires over 10 s, four copies hidden)
                if cls[r] == REORDERED or r != after[g] or used[r - w0] >= _timer_fires(t[r] - t[before[g]]):
                    continue
            if cls[r] == REORDERED:
                k = np.searchsorted(starts, rel_seq[r])
                if k < nres and starts[k] == rel_seq[r]:
                    continue  # its re-send shows
                # had the sender heard of its arrival, or that its bytes were missing?
                y = nxt[r - w0]
                arrived = y >= 0 and y < i and heard >= 0 and _s32(heard - tsval[y]) >= 0
                above = np.searchsorted(reach[: r - w0], rel_seq[r], side="right")  # first row past it
                z = nxt[above] if above < r - w0 else -1
                missing = echo < 0 or above >= r - w0 or (0 <= z < r and _s32(echo - tsval[z]) >= 0)
                if missing and not arrived and rel_seq[r] < rel_seq[top] and not low_known:
                    low = _first_resent_after(
                        after[g], before[g], x, w0, i, d, side, t, rel_seq, plen, cls, tsval, tsecr
                    )
                    low_known = True
                found = missing and not arrived and not (rel_seq[r] < rel_seq[top] and low < rel_seq[r])
            elif (cls[r] == RETRANSMISSION or cls[r] == SPURIOUS) and r >= after[g]:
                found = _could_know(r, before[g], heard_after if 0 <= x < r else -1, t, tsecr, True)
            if found:
                used[r - w0] += 1
                break
        if not found:
            first = g
    if first < 0:
        return False
    x = nxt[after[first] - w0]
    return _could_know(i, before[first], tsval[x] if 0 <= x < i else -1, t, tsecr, False)


_PEER_ACK_LOOKBACK = 64  # rows _peer_acked looks back for the peer's latest ACKs


@njit(cache=True)
def _peer_acked(
    i: np.int64, a: np.int64, d: np.int64, side: np.ndarray, has_ack: np.ndarray, rel_ack: np.ndarray,
    una: np.int64,
) -> np.int64:
    """What the peer of side d had acknowledged before row i: the highest of its ACKs among the
    last _PEER_ACK_LOOKBACK rows (cumulative ACKs only grow), else `una`. `una` starts where the
    capture started seeing the side's bytes, so an ACK below that, saying the receiver lacks
    bytes sent before the capture, never moves it (seed 309: a chat reply's first copy lost, the
    next seen first, the phone's ACK below it). Looked up only at a re-send of such bytes, and
    bounded, so a flow seen one way only costs no more than a constant per segment."""
    hi = np.iinfo(np.int64).min
    for j in range(i - 1, max(a, i - _PEER_ACK_LOOKBACK) - 1, -1):
        if side[j] != d and has_ack[j] and rel_ack[j] > hi:
            hi = rel_ack[j]
    return hi if hi != np.iinfo(np.int64).min else una


@njit(cache=True)
def _resent_lately(
    i: np.int64, a: np.int64, d: np.int64, side: np.ndarray, t: np.ndarray, rel_seq: np.ndarray, plen: np.ndarray,
    ipid: np.ndarray, cls: np.ndarray, low: np.int64, low_opener: np.int64, floor: float,
) -> np.int64:
    """At the receiver's side, before hole filler i of side d: how many packets an ID gap hid
    sooner than a round trip (`floor`) before i, where they can only have been re-sends of holes,
    the lowest first (0: no such gap). Such a gap sits after a new segment (then the highest),
    with no data from the other side between, and before either the next new segment back to
    back, or a re-send of a hole above the lowest when the side's next new segment after that
    starts back to back (seed 261): new data hidden there would have left a hole, there was
    nothing to acknowledge, and a sender re-sends holes from the lowest up. The lowest hole (`low`,
    opened at row `low_opener`) was then open and lowest (no segment below it came since), and the
    sender re-sends a hole again only once a SACK of something sent after the copy shows it lost,
    a round trip later at least, or after its timer: so i's own gap holds no copy of it (seed
    210: the lowest hole's copy hidden 27 ms before, over a 48 ms path). Looked up only here, at a
    hole filler with holes below it, so the walk keeps no state for it."""
    if not np.isfinite(floor):
        return 0
    later = -1  # the side's next packet after row j
    other_data = False  # the other side sent data between j and `later`
    next_new = np.int64(-1)  # where the side's first new segment after `later` starts
    j = i - 1
    while j >= a and t[i] - t[j] < floor:
        if side[j] != d:
            other_data = other_data or plen[j] > 0
        else:
            if plen[j] > 0 and rel_seq[j] < low:
                return 0  # a segment below the lowest hole: it was not the lowest then
            if later >= 0 and not other_data and j >= low_opener and plen[j] > 0 and plen[later] > 0 and cls[j] == NEW:
                after = rel_seq[j] + plen[j]
                if (cls[later] == NEW and rel_seq[later] == after) or (
                    cls[later] == RETRANSMISSION and rel_seq[later] > low and next_new == after
                ):
                    n = _ids_missing(ipid[later], ipid[j])
                    if n > 0:
                        return n
            if plen[j] > 0 and cls[j] == NEW:
                next_new = rel_seq[j]
            later = j
            other_data = False
        j -= 1
    return 0


@njit(cache=True)
def _same_tick_as_fast_resend(
    i: np.int64, r: np.int64, tsval: np.ndarray, ts_ok: bool, t: np.ndarray, top_t: float
) -> bool:
    """Was row i, at the next byte expected, sent in the same clock tick as row r, the re-send
    that showed an ID gap right after the highest segment, when r came sooner than a timer after
    that segment? A sender learns of a loss from a SACK of something sent after it, or from its
    timer; the only packet sent after the hidden one is r, too recent to be SACKed, and no timer
    fired. So i is not a re-send of hidden new data at its bytes: the hidden packet was something
    else, a needless re-send of a late segment (seed 154). After a timer re-send, the
    sender re-sends everything not SACKed in one go, the hidden new data too (RFC 6298 5.4)."""
    return ts_ok and tsval[i] >= 0 and tsval[i] == tsval[r] and t[r] - top_t < MIN_RTO_S


@njit(cache=True)
def _fast_resend_after_top(
    p_ipid: np.int64, p_t: float, top_ipid: np.int64, top_t: float, resent_t: float, resent_end: np.int64, s: np.int64
) -> bool:
    """Was the sender's previous packet a re-send of bytes below `s`, the first packet after its
    highest segment and sooner than a timer after it? A sender in SACK recovery re-sends the holes
    it knows lost from the lowest up and may send new data in between; one in timeout recovery
    re-sends everything not SACKed, bytes the receiver has included, so a gap there may hide
    anything below `s` (three lab sets had such a gap hide a needless re-send)."""
    return (
        resent_t == p_t and resent_end <= s and _s16(p_ipid - top_ipid) == 1 and p_t - top_t < MIN_RTO_S
    )


@njit(cache=True)
def _late_below(late_seq: np.ndarray, s: np.int64, seg: np.int64, heard: np.int64, run: bool) -> np.int64:
    """How many of the latest `reordered` segments (their starts, `late_seq`) may have been re-sent
    before a re-send at `s`: they looked lost to the sender, and a sender re-sends from the lowest
    up, so their needless re-sends may be hidden packets before it. Those at or above `heard`, the
    ACK the sender had heard (-1: not known), below which it re-sends nothing (seeds 692 and 421);
    and with `run` (the re-send at `s` needless too), those back to back just below `s`, held on
    the way with it, whatever the echo."""
    count = 0
    if seg <= 0:
        return count
    x = s - seg
    while run and x >= 0 and (late_seq == x).any():
        count += 1
        x -= seg
    if heard >= 0:
        for j in range(late_seq.shape[0]):
            x = late_seq[j]
            if heard <= x < s - seg * count and not (late_seq[:j] == x).any():
                count += 1
    return count


_ECHO_LOOKBACK = 512  # rows _echoed_ack looks back for the packets a re-send echoes


@njit(cache=True)
def _echoed_ack(
    i: np.int64, a: np.int64, d: np.int64, side: np.ndarray, has_ack: np.ndarray, rel_ack: np.ndarray,
    tsval: np.ndarray, tsecr: np.int64,
) -> np.int64:
    """The ACK the sender (side d) had heard when it sent row i: the lowest ACK among the peer's
    packets whose TSval row i echoes (it echoes the latest it heard), within the last
    _ECHO_LOOKBACK rows (a busy download's sender may echo a packet 100 rows back: seed 820);
    -1 when none is found."""
    lo = np.int64(-1)
    if tsecr < 0:
        return lo
    for j in range(i - 1, max(a, i - _ECHO_LOOKBACK) - 1, -1):
        if side[j] != d and has_ack[j]:
            if tsval[j] == tsecr:
                lo = rel_ack[j]
            elif lo >= 0:
                break
    return lo


@njit(cache=True)
def _segments_below(holes: np.ndarray, n: np.int64, s: np.int64, seg: np.int64) -> np.int64:
    """How many segments of `seg` bytes (rounded up per hole) the open holes below `s` span (holes
    the peer has acknowledged are gone: none below the lowest hole)."""
    seg = max(seg, 1)
    count = 0
    for j in range(n):
        if holes[j, 1] <= s:
            count += (holes[j, 1] - holes[j, 0] + seg - 1) // seg
    return count


@njit(cache=True, inline="always")
def _note_hidden(
    lost_top: np.ndarray, lost_top_row: np.ndarray, top_gap: np.ndarray, d: np.int64, n: np.int64, row: np.int64,
    p_ipid: np.int64, chain: bool = False,
) -> None:
    """Remember that `row`'s ID gap (after `p_ipid`) hid n segments of side d lost above the bytes
    seen (n > 0), and that no segment has been counted as their re-send yet."""
    if n > 0 and chain:
        lost_top[d] += n  # a further gap right after the re-send that showed the last one
        lost_top_row[d] = row
    elif n > 0:
        lost_top[d] = n
        lost_top_row[d] = row
        top_gap[d, 0] = p_ipid
        top_gap[d, 1] = -1


@njit(cache=True, inline="always")
def _after_counted_gap(
    lost_top: np.int64, row: np.int64, counted: np.int64, ipid: np.ndarray, p_ipid: np.int64
) -> bool:
    """Was the sender's previous packet the re-send whose ID gap the lost-above count read, with none
    of those hidden segments re-sent since? A sender in recovery may send new data between its
    re-sends, so a gap after that re-send may hide more of it (seed 679)."""
    return lost_top > 0 and counted < 0 and row >= 0 and ipid[row] == p_ipid


@njit(cache=True)
def _gap_shows_up(ipid: np.int64, lo: np.int64, gap_hi: np.int64, s: np.int64, e: np.int64, c_s: np.int64,
                  c_e: np.int64) -> bool:
    """Does this packet carry one of the IDs hidden in the gap that the lost-above count read
    (after `lo`, before `gap_hi`), on bytes other than [c_s, c_e) of the last segment counted as a
    re-send? Then a hidden packet was late, not lost, and not new data there (seed 200: a needless
    re-send held 38 ms on the way)."""
    return _in_gap(ipid, lo, gap_hi) and (e <= c_s or s >= c_e)


@njit(cache=True, inline="always")
def _in_gap(ipid: np.int64, lo: np.int64, gap_hi: np.int64) -> bool:
    """Is `ipid` one of the IDs after `lo` and before `gap_hi` (all known)?"""
    if ipid < 0 or lo < 0 or gap_hi < 0:
        return False
    return _s16(ipid - lo) > 0 and _s16(gap_hi - ipid) > 0


@njit(cache=True)
def _tail_lost_after(ipid: np.int64, p_ipid: np.int64, t: float, p_t: float) -> np.int64:
    """After a lost-tail re-send (`_lost_original`) sent by a retransmission timer: how many of
    the packets its ID gap hid were segments after its own original (0: none, or unknown).

    Before a Linux RTO the hidden packets are the original, at most one tail-loss probe (RFC 8985
    7: one per episode), the re-sends of earlier timeouts, lost too, and, beyond those, the
    segments that followed the original, lost with it; their re-sends come after this one,
    starting at the next byte expected, and look new without this. The k-th timeout fires
    (2^k - 1) RTO after the sender's previous packet (each one doubles the next wait) and the RTO
    is at least MIN_RTO_S, so at most m - 1 earlier re-sends are hidden where (2^m - 1) MIN_RTO_S
    is the longest such wait within this one (seed 146: 1.24 s, four IDs missing: the original,
    the probe and one earlier timeout's re-send at most, so the segment after it was lost too)."""
    wait = t - p_t
    if wait < MIN_RTO_S:
        return 0
    m = max(_timer_fires(wait), 1)
    return max(_ids_missing(ipid, p_ipid) - 2 - (m - 1), 0)


@njit(cache=True)
def _mark_spurious(
    cls: np.ndarray, basis: np.ndarray, passed: np.ndarray, row: np.int64, orig: np.int64, why: np.int64
) -> None:
    """A needless re-send (shown by rule `why`); if its original had been passed by a later
    segment, it was reordered."""
    cls[row] = SPURIOUS
    basis[row] = why
    if orig >= 0 and passed[orig] and cls[orig] == NEW:
        cls[orig] = REORDERED
        basis[orig] = B_PASSED_RESEND_NEEDLESS


_OUTAGE_LOOKBACK = 4096  # rows _outage_copies reads between an original and its first re-send


@njit(cache=True)
def _outage_copies(
    hist: np.ndarray, j: np.int64, left: np.int64, right: np.int64, i: np.int64, d: np.int64, side: np.ndarray,
    rel_seq: np.ndarray, plen: np.ndarray, cls: np.ndarray, basis: np.ndarray, passed: np.ndarray,
) -> None:
    """At the sender's side, ACK i (of side d) D-SACKs [left, right), the bytes of re-send hist[j],
    acknowledges exactly up to them and SACKs nothing above. When one earlier re-send of them came
    before, the sender had sent data above them between their original and that re-send, and the
    receiver sent nothing the capture saw from that re-send to this ACK, an outage took everything
    after the original: one outage in both directions, outlasting one timeout, explains the
    original's ACK lost, all later data lost and the earlier re-send lost with it, so the original
    got through and that re-send was needless too. The other story, the original lost and the
    re-send delivered, needs the outage to end before the re-send and then its ACK lost apart
    (seeds 407, 641, 722, 724: the lab's 1 s blackout). With two or more earlier re-sends the
    outage would have to outlast backed-off timeouts too (three times the first at least); there
    the lab's blackouts had ended and the other story held (seeds 431, 548, 623, 651), and the
    walk keeps the earlier copies needed."""
    first = -1
    for x in range(j):
        if hist[x, 0] == left and hist[x, 1] == right and cls[hist[x, 2]] == RETRANSMISSION:
            if first >= 0:
                return  # more than one earlier re-send
            first = x
    if first < 0 or hist[first, 3] < 0:
        return
    r1 = hist[first, 2]
    orig = hist[first, 3]
    for x in range(r1 + 1, i):
        if side[x] == d:
            return  # the receiver was heard from: no outage
    for x in range(orig + 1, min(r1, orig + 1 + _OUTAGE_LOOKBACK)):
        if side[x] != d and plen[x] > 0 and rel_seq[x] >= right:
            _mark_spurious(cls, basis, passed, r1, orig, B_OUTAGE)
            return


@njit(cache=True)
def _missing_answers(
    step1: bool, ipid: np.int64, p_ipid: np.int64, p_ack: np.int64, left: np.int64, seq: np.int64,
    max_end: np.int64, max_len: np.int64,
) -> np.int64:
    """How many of a receiver's packets the capture point missed just before this one that can
    only have been answers to arriving data, or 0 if its IP IDs cannot tell: they count up by 1
    per packet (ipid_step1), its last packet seen had not acknowledged the bytes at `left`, and
    the data it sent unseen (its sequence number above the bytes seen) took at least one packet
    per largest segment it has sent."""
    if not step1 or p_ack < 0 or p_ack > left:
        return 0
    missing = _ids_missing(ipid, p_ipid)
    if missing == 0:
        return 0
    if seq > max_end:
        if max_len <= 0:
            return 0
        missing -= (seq - max_end + max_len - 1) // max_len
    return max(missing, 0)


@njit(cache=True)
def _answered_copies(
    hist: np.ndarray, n: np.int64, skip: np.int64, left: np.int64, right: np.int64, t: np.ndarray,
    cls: np.ndarray, basis: np.ndarray, passed: np.ndarray, answers: np.int64, since: float, until: float,
    last_new: np.int64, quiet: bool, others_lost: bool, echo: np.int64, tsval: np.ndarray,
) -> None:
    """The receiver's missing packets (`answers`, counted by its IP IDs) against the copies of
    [left, right) it can have answered (sent after `since`: after its last packet seen here had
    left): each arriving copy drew one, so count - answers copies were lost, and any copy with
    more copies before it than were lost had an earlier one arrive: it was needless (all but
    the first when the counts match; seed 322: three timer re-sends, two answers, the third
    needless whichever was lost). With copies lost, only where the receiver had no data of its
    own unacknowledged (`quiet`): its timer would re-send that, and the re-send takes an ID.
    `skip`: the re-send a D-SACK already answered (-1 for none). Any other data the sender sent
    in that time draws answers too, when it arrives: then nothing is decided, unless the
    receiver's packet shows none of it arrived (`others_lost`, `_others_lost`). Copies sent after
    `until` (less than the path's smallest round trip before the receiver's packet) reached it
    after that packet left: no missing packet answers them, so they are not counted; when an
    earlier copy delivered the bytes, they were needless all the same (seed 361: a chat reply,
    its loss probe, and its timer re-send 1.4 ms before the phone's next message). Nor are copies
    whose TSval is newer than the receiver's packet echoes (`echo`, -1 when it tells nothing):
    a copy at its left edge sets its TS.Recent on arrival (RFC 7323 4.3; Linux takes it from a
    duplicate too), so those came after the packet left (seed 560: a chat reply, its ACK and
    the D-SACK of its first re-send lost, the second re-send not yet there when the phone's next
    message echoed the first)."""
    orig = -1
    count = 0
    for x in range(n):
        if hist[x, 0] < right and hist[x, 1] > left:
            if orig < 0:
                orig = hist[x, 3]
            if x != skip and since < t[hist[x, 2]] <= until and _heard(tsval[hist[x, 2]], echo):
                count += 1
        elif since < t[hist[x, 2]] <= until and not others_lost:
            return  # a re-send of other bytes drew answers of its own
    if last_new >= 0 and since < t[last_new] <= until and last_new != orig and not others_lost:
        return  # so did new data
    place = 0  # copies counted so far, in the order they were sent
    if orig >= 0 and since < t[orig] <= until and _heard(tsval[orig], echo):
        count += 1
        place = 1
    lost = count - answers
    if count < 2 or lost < 0 or (lost > 0 and not quiet):
        return
    for x in range(n):
        if x != skip and hist[x, 0] < right and hist[x, 1] > left and t[hist[x, 2]] > since:
            # with `lost` copies lost, one of the first lost + 1 delivered the bytes
            if place > lost and cls[hist[x, 2]] == RETRANSMISSION:
                _mark_spurious(cls, basis, passed, hist[x, 2], hist[x, 3], B_ANSWER_COUNT)
            place += 1


@njit(cache=True, inline="always")
def _heard(tsval: np.int64, echo: np.int64) -> bool:
    """Can a copy with this TSval have reached a receiver whose packet echoes `echo` before that
    packet left (-1 for either: nothing says otherwise)?"""
    return tsval < 0 or echo < 0 or _s32(tsval - echo) <= 0


@njit(cache=True)
def _answerable_until(t: float, min_rtt: float, path_rtt: float) -> float:
    """The latest time a copy seen here can have been sent and still drawn an answer the
    receiver sent before its packet seen at `t`: a round trip before, by the path's smallest
    (inf when none is known: then no copy is ruled out)."""
    floor = _path_floor(min_rtt, path_rtt)
    return t - floor if np.isfinite(floor) else np.inf


@njit(cache=True)
def _answer_rtt(min_rtt: float, tsecr: np.int64, t: float, ts_seen: np.ndarray, ts_time: np.ndarray) -> float:
    """The round trip `_answered_copies` counts back by: the sender's minimum RTT; before the
    first sample, the time since the packet this ACK echoes was seen (NaN: neither). That span
    holds a whole round trip, so it can only count more copies, and a count that still matches
    the missing answers is right (seed 150: a chat reply's copies, no RTT sample yet)."""
    if np.isfinite(min_rtt):
        return min_rtt
    if tsecr < 0:
        return np.nan
    h = tsecr & (_CACHE - 1)
    if ts_seen[h] != tsecr:
        return np.nan
    return t - ts_time[h]


_OTHERS_LOOKBACK = 256  # rows _others_lost looks back over


@njit(cache=True)
def _others_lost(
    i: np.int64, a: np.int64, o: np.int64, since: float, left: np.int64, right: np.int64, side: np.ndarray,
    t: np.ndarray, rel_seq: np.ndarray, plen: np.ndarray, has_ack: np.ndarray, rel_ack: np.ndarray,
    sack_off: np.ndarray, sack_l: np.ndarray, sack_r: np.ndarray, ack_raw: np.ndarray,
) -> bool:
    """Did none of side o's data other than [left, right), sent after `since`, reach the receiver
    before its packet i? It all starts at or above both i's ACK and every SACK block above it:
    a Linux receiver reports the out-of-order data it holds in every ACK (RFC 2018), the D-SACK's
    too (RFC 2883), so those segments drew no answers (seed 322: an upload's burst of new data
    lost before the timer re-sent the hole three times). Bounded: False when it looks back
    _OTHERS_LOOKBACK rows without reaching `since`."""
    if not has_ack[i]:
        return False
    top = rel_ack[i]
    for x in range(sack_off[i], sack_off[i + 1]):
        r = rel_ack[i] + _s32(sack_r[x] - ack_raw[i])
        if r > top:
            top = r
    for r in range(i - 1, max(a, i - _OTHERS_LOOKBACK) - 1, -1):
        if t[r] <= since:
            return True
        if side[r] == o and plen[r] > 0 and not (rel_seq[r] < right and rel_seq[r] + plen[r] > left):
            if rel_seq[r] < top:
                return False
    return i - _OTHERS_LOOKBACK < a


SACK_BLOCKS_MAX_TS = 3  # SACK blocks that fit in the TCP options beside a timestamp (RFC 2018: 4 without)


@njit(cache=True)
def _lowest_reported(
    i: np.int64, ra: np.int64, ts: bool, sack_off: np.ndarray, sack_l: np.ndarray, ack_raw: np.ndarray
) -> np.int64:
    """When ACK i's SACK option is full (3 blocks beside a timestamp, 4 without), the receiver may
    hold older blocks it left out (RFC 2018 reports the most recent first): bytes below the
    lowest block reported may be held, so no segment there shows as passed. The lowest left edge
    reported (above the ACK number), or the smallest int64 when the option is not full."""
    n = sack_off[i + 1] - sack_off[i]
    lo = np.iinfo(np.int64).min
    if n < (SACK_BLOCKS_MAX_TS if ts else SACK_BLOCKS_MAX_TS + 1):
        return lo
    for x in range(sack_off[i], sack_off[i + 1]):
        left = ra + _s32(sack_l[x] - ack_raw[i])
        if left > ra and (lo == np.iinfo(np.int64).min or left < lo):
            lo = left
    return lo


@njit(cache=True)
def _settle_by_answers(
    step1: bool, ipid: np.int64, p_ipid: np.int64, p_ack: np.int64, seq: np.int64, max_end: np.int64,
    max_len: np.int64, hist: np.ndarray, n: np.int64, skip: np.int64, left: np.int64, right: np.int64,
    t: np.ndarray, cls: np.ndarray, basis: np.ndarray, passed: np.ndarray, since: float, until: float,
    last_new: np.int64, a: np.int64, d: np.int64, side: np.ndarray, has_ack: np.ndarray, rel_ack: np.ndarray,
    rcv_data: bool, i: np.int64, rel_seq: np.ndarray, plen: np.ndarray, sack_off: np.ndarray, sack_l: np.ndarray,
    sack_r: np.ndarray, ack_raw: np.ndarray, hidden: np.int64, tsecr: np.int64, tsval: np.ndarray,
) -> None:
    """Count the receiver's missing answers (`_missing_answers`, less `hidden`: its own data
    packets among them that the sequence numbers do not show) and, when there are any, mark the
    needless copies of [left, right) they show (`_answered_copies`). The receiver (side d) is quiet
    when it sent no data, or the sender's ACKs before the first copy covered all it had sent.
    Its packet's echo (`tsecr`) bounds the copies it had heard when [left, right) starts at the
    ACK of its last packet seen before: every copy then arrived at its left edge."""
    answers = _missing_answers(step1, ipid, p_ipid, p_ack, left, seq, max_end, max_len) - hidden
    if answers > 0:
        quiet = not rcv_data
        if rcv_data:
            for x in range(n):
                if hist[x, 0] < right and hist[x, 1] > left:
                    first = hist[x, 3] if hist[x, 3] >= 0 else hist[x, 2]
                    quiet = _peer_acked(first, a, d, side, has_ack, rel_ack, np.iinfo(np.int64).min) >= max_end
                    break
        others_lost = _others_lost(
            i, a, 1 - d, since, left, right, side, t, rel_seq, plen, has_ack, rel_ack, sack_off, sack_l, sack_r, ack_raw
        )
        echo = tsecr if p_ack >= 0 and left <= p_ack else -1
        _answered_copies(
            hist, n, skip, left, right, t, cls, basis, passed, answers, since, until, last_new, quiet, others_lost,
            echo, tsval,
        )


@njit(cache=True)
def _dsack_of_first_segment(
    r: np.int64, first_seq: np.int64, left: np.int64, right: np.int64, tsecr: np.int64, rel_seq: np.ndarray,
    plen: np.ndarray, tsval: np.ndarray, cls: np.ndarray, basis: np.ndarray,
) -> None:
    """At the sender's side, a D-SACK of the side's first data segment, which the capture saw
    once, and that echoes its TSval (Linux takes TS.Recent from a duplicate at the left edge):
    the receiver had the bytes already, from a copy sent before the capture started, so this one
    was a needless re-send (seed 156: a chat's first message re-sent by the timer as the capture
    began)."""
    if (
        cls[r] == NEW and rel_seq[r] == first_seq and left <= rel_seq[r] and rel_seq[r] + plen[r] <= right
        and tsecr >= 0 and tsecr == tsval[r]
    ):
        cls[r] = SPURIOUS
        basis[r] = B_DSACK_FIRST_SEGMENT


@njit(cache=True)
def _dsack_at_receiver(
    a: np.int64, i: np.int64, o: np.int64, left: np.int64, right: np.int64, side: np.ndarray, t: np.ndarray,
    rel_seq: np.ndarray, plen: np.ndarray, cls: np.ndarray, basis: np.ndarray,
) -> None:
    """At the receiver's side, a D-SACK (sent at once, RFC 2883) for the whole of a segment that
    just passed: the receiver already had those bytes, from a copy the capture point never saw
    (sent before the capture started). The segment was a needless re-send, not new."""
    for r in range(i - 1, a - 1, -1):
        if t[i] - t[r] > DEFAULT_RTT_S:
            return
        if side[r] == o and plen[r] > 0 and rel_seq[r] < right and rel_seq[r] + plen[r] > left:
            if left <= rel_seq[r] and rel_seq[r] + plen[r] <= right and (cls[r] == NEW or cls[r] == RETRANSMISSION):
                cls[r] = SPURIOUS
                basis[r] = B_DSACK_AT_RECEIVER
            return


_RECENT_RESENDS = 8  # the re-sends _dropped_for_window looks at: it runs at every duplicate ACK
_RECENT_LATE = 8  # the latest `reordered` segments whose needless re-sends the lost-above rule reads


@njit(cache=True)
def _dropped_for_window(
    ra: np.int64, tsecr: np.int64, win: np.int64, q: np.ndarray, qh: np.int64, qt: np.int64, hist: np.ndarray,
    nhist: np.int64, rel_seq: np.ndarray, plen: np.ndarray, tsval: np.ndarray,
) -> bool:
    """Does this ACK, which acknowledges nothing new, echo the TSval of a copy of the bytes at its
    ACK number while offering less window than that copy carried? Then the copy arrived and the
    receiver, short of buffer, discarded it (RFC 9293: a full window accepts no data): not a loss."""
    if tsecr < 0:
        return False
    if qh < qt:
        r = q[qh, 1]
        if rel_seq[r] == ra and tsval[r] == tsecr and win < plen[r]:
            return True
    for j in range(nhist - 1, max(nhist - _RECENT_RESENDS, 0) - 1, -1):
        r = hist[j, 2]
        if hist[j, 0] == ra and tsval[r] == tsecr and win < plen[r]:
            return True
    return False


@njit(cache=True, inline="always")
def _echo_predates(tsecr: np.int64, tsval_r: np.int64, s_r: np.int64, acked: np.int64) -> bool:
    """Does an ACK that first covers re-send r (not SACKed) echo a TSval older than r's, where r
    starts at or below an ACK the receiver had sent before (`acked`)? A receiver takes TS.Recent
    from any segment at or below its last ACK (RFC 7323 4.3; Linux `tcp_replace_ts_recent`), and r
    cannot have arrived before that ACK left (it would have moved it past r's start). So had r
    arrived before this ACK, the echo would be r's TSval or newer: another copy delivered the
    bytes, and r was needless, whatever other packets carry the echoed TSval (seed 211: the echoed
    first re-send shared its tick with the segment below it)."""
    return tsecr >= 0 and tsval_r >= 0 and s_r <= acked and _s32(tsecr - tsval_r) < 0


@njit(cache=True)
def _ts_unique(tsecr: np.int64, ts_ok: bool, ts_seen: np.ndarray, ts_count: np.ndarray) -> bool:
    """Did exactly one packet of the sender carry the TSval an ACK echoes (False: more, or not
    known)? Then the echo names that packet. The receiver takes TS.Recent from the segment that
    fills its left edge (RFC 7323 4.3), so an echoed re-send arrived and delivered its bytes: a
    later copy of the same bytes was needless, whatever other re-sends the ACK covers (seed 134:
    a hole's first re-send held on the way, its second sent before the ACK could come)."""
    if not ts_ok or tsecr < 0:
        return False
    h = tsecr & (_CACHE - 1)
    return ts_seen[h] == tsecr and ts_count[h] == 1


@njit(cache=True)
def walk_flows(
    starts: np.ndarray,  # int64[n_flows + 1] row offsets of each flow (rows sorted by flow, time)
    side: np.ndarray,  # int8: 0 client->server, 1 server->client
    t: np.ndarray,  # float64 seconds
    rel_seq: np.ndarray,  # int64
    plen: np.ndarray,  # int64 payload length
    flags: np.ndarray,  # int64
    has_ack: np.ndarray,  # bool
    rel_ack: np.ndarray,  # int64 (valid where has_ack)
    ack_raw: np.ndarray,  # int64 raw ack (for SACK edges)
    win: np.ndarray,  # int64 window in bytes
    ipid: np.ndarray,  # int64, -1 unknown
    tsval: np.ndarray,  # int64, -1 unknown
    tsecr: np.ndarray,  # int64, -1 unknown
    sack_off: np.ndarray,  # int64[n + 1] offsets into sack_l / sack_r
    sack_l: np.ndarray,  # int64 raw left edges
    sack_r: np.ndarray,  # int64 raw right edges
    sender_vantage: np.ndarray,  # bool[2 * n_flows]: capture point near that side's sender
    ipid_seq: np.ndarray,  # bool[2 * n_flows]: IP IDs increase per packet (usable for order)
    ipid_varies: np.ndarray,  # bool[2 * n_flows]: IP IDs differ between packets (dup test)
    ts_ok: np.ndarray,  # bool[2 * n_flows]: TSvals present and usable for order
    ipid_step1: np.ndarray,  # bool[2 * n_flows]: IP IDs count up by exactly 1 per packet of the side
    rtt_hint: np.ndarray,  # float64[n_flows]: handshake RTT in s, NaN if unknown
    path_rtt: np.ndarray,  # float64[n_flows]: smallest handshake RTT between the two hosts, NaN if unknown
):
    """Classify data segments, compute bytes in flight and RTT samples for every flow."""
    n = t.shape[0]
    cls = np.full(n, -1, dtype=np.int8)
    basis = np.full(n, -1, dtype=np.int8)  # the rule that set each class (BASIS_NAMES), last
    inflight = np.full(n, -1, dtype=np.int64)
    rtt_ack = np.full(n, np.nan)  # data -> covering ACK (sender-side RTT, Karn)
    rtt_echo = np.full(n, np.nan)  # peer TSval -> data echoing it (receiver-side RTT)
    passed = np.zeros(n, dtype=np.bool_)  # a later segment was SACKed while this one was missing
    for f in range(starts.shape[0] - 1):
        a, b = starts[f], starts[f + 1]
        m = b - a
        max_end = np.full(2, np.iinfo(np.int64).min, dtype=np.int64)
        una = np.full(2, np.iinfo(np.int64).min, dtype=np.int64)
        acked = np.full(2, np.iinfo(np.int64).min, dtype=np.int64)  # highest ACK the peer sent of each side
        peer_win = np.full(2, -1, dtype=np.int64)
        first_seq = np.zeros(2, dtype=np.int64)  # where the capture starts seeing each side's bytes
        ts_echo = np.full(2, -1, dtype=np.int64)  # newest TSecr the peer echoed: its TS.Recent
        min_rtt = np.full(2, rtt_hint[f] if not np.isnan(rtt_hint[f]) else np.inf)
        # holes per side: start, end, opener row (global index)
        holes = [np.empty((8, 3), dtype=np.int64), np.empty((8, 3), dtype=np.int64)]
        nholes = np.zeros(2, dtype=np.int64)
        # SACK scoreboard per side: merged intervals above una
        sb = [np.empty((8, 2), dtype=np.int64), np.empty((8, 2), dtype=np.int64)]
        nsb = np.zeros(2, dtype=np.int64)
        # queue of first transmissions: end, row, retransmitted flag
        q = [np.empty((m + 1, 3), dtype=np.int64), np.empty((m + 1, 3), dtype=np.int64)]
        qh = np.zeros(2, dtype=np.int64)
        qt = np.zeros(2, dtype=np.int64)
        pm = np.zeros(2, dtype=np.int64)  # queue entries below this index were checked for 'passed'
        # pending sender-side retransmissions awaiting spurious evidence: start, end, row, original row
        # (+ a flag: the re-sent bytes were SACKed before any cumulative ACK covered them)
        pend = [np.empty((8, 5), dtype=np.int64), np.empty((8, 5), dtype=np.int64)]
        npend = np.zeros(2, dtype=np.int64)
        # every sender-side re-send (same columns), for D-SACKs that arrive after the cumulative ACK
        hist = [np.empty((8, 4), dtype=np.int64), np.empty((8, 4), dtype=np.int64)]
        nhist = np.zeros(2, dtype=np.int64)
        sack_seen = np.zeros(2, dtype=np.bool_)  # the peer of this side has sent SACK blocks
        # direct-mapped caches: duplicate keys (seq, len, ipid, tsval) and TSval first-seen
        dup = np.full((2, _CACHE, 4), -2, dtype=np.int64)
        ts_seen = np.full((2, _CACHE), -1, dtype=np.int64)
        ts_time = np.full((2, _CACHE), np.nan)
        ts_outstanding = np.zeros((2, _CACHE), dtype=np.bool_)
        ts_count = np.zeros((2, _CACHE), dtype=np.int64)  # packets seen with that TSval
        # per side: IP ID, ACK and time of its packet with the highest IP ID so far (a reordered
        # packet's lower ID is no gap); time of its last data segment
        prev_ipid = np.full(2, -1, dtype=np.int64)
        prev_ack = np.full(2, -1, dtype=np.int64)
        prev_t = np.full(2, np.nan)
        last_data_t = np.full(2, -np.inf)
        lone = np.full(2, -1, dtype=np.int64)  # a _lost_original re-send awaiting the next data
        lone_gap = np.zeros(2, dtype=np.int64)  # how many of the side's IDs were missing before it
        max_len = np.zeros(2, dtype=np.int64)  # largest payload of each side
        last_new = np.full(2, -1, dtype=np.int64)  # row of each side's latest new data segment
        top_ipid = np.full(2, -1, dtype=np.int64)  # IP ID of the segment that set each side's max_end
        top_t = np.full(2, np.nan)  # ... and its time
        top_row = np.full(2, -1, dtype=np.int64)  # ... and its row
        first_data = np.full(2, -1, dtype=np.int64)  # each side's first data segment
        lost_top = np.zeros(2, dtype=np.int64)  # segments sent above max_end and lost (_lost_above)
        lost_top_row = np.full(2, -1, dtype=np.int64)  # the re-send whose ID gap showed them
        top_gap = np.full((2, 2), -1, dtype=np.int64)  # the ID before that gap; the last segment counted
        top_lower = np.zeros(2, dtype=np.int64)  # the gap's packets the count left to re-sends of lower holes
        win_drop = np.zeros(2, dtype=np.bool_)  # the bytes at una arrived and were discarded (window)
        resent_end = np.full(2, -1, dtype=np.int64)  # end and time of each side's latest re-send
        resent_t = np.full(2, -np.inf)
        # time of each side's oldest data the peer had not acknowledged; the peer's replies sent at once
        wait_t = np.full(2, np.nan)
        at_once = np.zeros(2, dtype=np.int64)
        acks_alone = np.zeros(2, dtype=np.int64)  # pure ACKs that first acknowledged the peer's data
        late_seq = np.full((2, _RECENT_LATE), -1, dtype=np.int64)  # starts of the latest `reordered` segments
        # the last answer count made at a packet of data that acknowledged re-sent bytes: that
        # packet's row and the bytes; the count's since and until
        redo = np.full(3, -1, dtype=np.int64)
        redo_t = np.zeros(2)
        n_late = np.zeros(2, dtype=np.int64)
        for i in range(a, b):
            d = side[i]
            o = 1 - d
            k = 2 * f + d
            ko = 2 * f + o
            s = rel_seq[i]
            ln = plen[i]
            e = s + ln
            fl = flags[i]
            p_ipid, p_ack, p_t = prev_ipid[d], prev_ack[d], prev_t[d]
            # a SYN/ACK or a reset takes its IP ID from the kernel, not the connection's counter
            # (Linux: 0), so it neither sets nor breaks the side's run of IDs
            kernel_id = (fl & RST) != 0 or (fl & (SYN | ACK)) == (SYN | ACK)
            if ipid[i] >= 0 and not kernel_id and (p_ipid < 0 or _s16(ipid[i] - p_ipid) > 0):
                prev_ipid[d] = ipid[i]
                prev_ack[d] = rel_ack[i] if has_ack[i] else -1
                prev_t[d] = t[i]
            o_data_t = last_data_t[o]
            answers_at_once = at_once[d] >= AT_ONCE_MIN
            answers_alone = acks_alone[d] >= AT_ONCE_MIN
            if ln > 0 and has_ack[i] and rel_ack[i] > acked[o] and np.isfinite(wait_t[o]):
                floor = _path_floor(min_rtt[o], path_rtt[f])
                if np.isfinite(floor) and t[i] - wait_t[o] <= floor + DELACK_MIN_S:
                    at_once[d] += 1  # a reply that carries the first ACK of the peer's data
            elif ln == 0 and has_ack[i] and rel_ack[i] > acked[o] and np.isfinite(wait_t[o]):
                if (fl & (SYN | FIN | RST)) == 0:
                    acks_alone[d] += 1  # a pure ACK, the first of the peer's data
            if ln > 0:
                last_data_t[d] = t[i]
                if e > acked[d] and not np.isfinite(wait_t[d]):
                    wait_t[d] = t[i]
                max_len[d] = max(max_len[d], ln)
                if first_data[d] < 0:
                    first_data[d] = i
            if max_end[d] == np.iinfo(np.int64).min:
                # first packet of this side: everything before it counts as seen
                max_end[d] = s + (1 if (fl & SYN) != 0 else 0)
                first_seq[d] = max_end[d]
                if una[d] == np.iinfo(np.int64).min:
                    una[d] = max_end[d] if (fl & SYN) == 0 else s
            # TSecr is meaningful only with the ACK bit (RFC 7323 3.2): a SYN's zero is not an echo
            if has_ack[i] and tsecr[i] >= 0 and (ts_echo[o] < 0 or _s32(tsecr[i] - ts_echo[o]) > 0):
                ts_echo[o] = tsecr[i]
            # ---- this packet as an ACK for the other side's data
            if has_ack[i]:
                ra = rel_ack[i]
                if ra > una[o]:
                    # RTT from the newest first transmission it covers (Karn)
                    last = -1
                    ambiguous = False
                    while qh[o] < qt[o] and q[o][qh[o], 0] <= ra:
                        last = qh[o]
                        ambiguous = ambiguous or q[o][last, 2] != 0
                        if passed[q[o][last, 1]] and q[o][last, 2] == 0:
                            cls[q[o][last, 1]] = REORDERED  # arrived after a later segment, never re-sent
                            basis[q[o][last, 1]] = B_PASSED
                        qh[o] += 1
                    if last >= 0 and not ambiguous:
                        r = q[o][last, 1]
                        rtt_ack[r] = t[i] - t[r]
                        if sender_vantage[ko] and rtt_ack[r] < min_rtt[o]:
                            min_rtt[o] = rtt_ack[r]
                    # resolve pending retransmissions this ACK covers. Eifel compares its echo with
                    # the oldest re-send it covers: a receiver that delays its ACK echoes the first
                    # segment it acknowledges (RFC 7323 3.4), which may be another re-send
                    first_ts = np.int64(-1)
                    ej = -1  # the pending re-send this ACK echoes (_ts_unique)
                    for j in range(npend[o]):
                        r = pend[o][j, 2]
                        if pend[o][j, 1] <= ra and tsval[r] >= 0:
                            if first_ts < 0 or _s32(tsval[r] - first_ts) < 0:
                                first_ts = tsval[r]
                            if ej < 0 and tsval[r] == tsecr[i]:
                                ej = j
                    if ej >= 0 and not (npend[o] > 1 and _ts_unique(tsecr[i], ts_ok[ko], ts_seen[o], ts_count[o])):
                        ej = -1  # a later copy needs an earlier one pending beside it
                    echoed = pend[o][ej, 2] if ej >= 0 else -1
                    e_lo = pend[o][ej, 0] if ej >= 0 else 0
                    e_hi = pend[o][ej, 1] if ej >= 0 else 0
                    j = 0
                    while j < npend[o]:
                        if pend[o][j, 1] <= ra:
                            r = pend[o][j, 2]
                            spurious = False
                            why = B_EIFEL
                            if ts_ok[ko] and tsecr[i] >= 0 and first_ts >= 0 and pend[o][j, 4] == 0:
                                # Eifel (RFC 3522): the first ACK of these bytes echoes an earlier
                                # transmission. Not after a SACK of them: the cumulative ACK then
                                # echoes whatever filled the left edge (RFC 7323 TS.Recent rule)
                                spurious = _s32(tsecr[i] - first_ts) < 0
                                # or it echoes an earlier re-send of these bytes, by a TSval no
                                # other packet carried: that copy arrived at the left edge
                                if echoed >= 0 and r != echoed and t[r] > t[echoed]:
                                    spurious = spurious or (e_lo <= pend[o][j, 0] and pend[o][j, 1] <= e_hi)
                                spurious = spurious or _echo_predates(tsecr[i], tsval[r], pend[o][j, 0], acked[o])
                            elif sack_seen[o]:
                                pass  # with SACK the receiver reports needless copies itself (D-SACK)
                            elif np.isfinite(min_rtt[o]) and t[i] - t[r] < SPURIOUS_RTT_FRACTION * min_rtt[o]:
                                spurious = True  # no timestamps: too soon to be caused by the re-send
                                why = B_ACKED_TOO_SOON
                            if spurious:
                                _mark_spurious(cls, basis, passed, pend[o][j, 2], pend[o][j, 3], why)
                            elif ln > 0 and sack_off[i + 1] == sack_off[i]:
                                # the receiver's own data acknowledges the bytes: it answered no
                                # copy itself, so its missing packets may count them all
                                answer_rtt = _answer_rtt(min_rtt[o], tsecr[i], t[i], ts_seen[o], ts_time[o])
                                if np.isfinite(answer_rtt):
                                    # kept: counted again if this packet turns out a re-send whose
                                    # first copy hid among the missing IDs (below)
                                    redo[0], redo[1], redo[2] = i, pend[o][j, 0], pend[o][j, 1]
                                    redo_t[0] = p_t - answer_rtt
                                    redo_t[1] = _answerable_until(t[i], min_rtt[o], path_rtt[f])
                                    _settle_by_answers(
                                        ipid_step1[k], ipid[i], p_ipid, p_ack, s, max_end[d], max_len[d], hist[o],
                                        nhist[o], -1, redo[1], redo[2], t, cls, basis, passed, redo_t[0], redo_t[1],
                                        last_new[o], a, d, side, has_ack, rel_ack, first_data[d] >= 0,
                                        i, rel_seq, plen, sack_off, sack_l, sack_r, ack_raw, 0, tsecr[i], tsval,
                                    )
                            pend[o][j] = pend[o][npend[o] - 1]
                            npend[o] -= 1
                        else:
                            j += 1
                    una[o] = ra
                    acked[o] = ra
                    if ra >= max_end[o]:
                        wait_t[o] = np.nan  # nothing of the peer's left to answer
                    win_drop[o] = False
                    # holes the peer has acknowledged were filled out of the capture's sight
                    drop = 0
                    while drop < nholes[o] and holes[o][drop, 1] <= ra:
                        drop += 1
                    if drop > 0:
                        for x in range(drop, nholes[o]):
                            holes[o][x - drop] = holes[o][x]
                        nholes[o] -= drop
                elif ra == una[o] and sender_vantage[ko] and (fl & SYN) == 0 and _dropped_for_window(
                    ra, tsecr[i], win[i], q[o], qh[o], qt[o], hist[o], nhist[o], rel_seq, plen, tsval
                ):
                    win_drop[o] = True
                # SACK blocks: D-SACK (RFC 2883) and the scoreboard
                if sack_off[i + 1] > sack_off[i]:
                    sack_seen[o] = True
                for x in range(sack_off[i], sack_off[i + 1]):
                    left = ra + _s32(sack_l[x] - ack_raw[i])
                    right = ra + _s32(sack_r[x] - ack_raw[i])
                    if right <= left:
                        continue
                    dsack = right <= ra
                    if x == sack_off[i] and not dsack and sack_off[i + 1] - sack_off[i] > 1:
                        l2 = ra + _s32(sack_l[x + 1] - ack_raw[i])
                        r2 = ra + _s32(sack_r[x + 1] - ack_raw[i])
                        dsack = left >= l2 and right <= r2
                    if dsack:
                        if not sender_vantage[ko]:
                            _dsack_at_receiver(a, i, o, left, right, side, t, rel_seq, plen, cls, basis)
                        # the newest re-send of these bytes not yet shown needless was the copy;
                        # one the block covers only in part also carried bytes the receiver
                        # lacked (Linux D-SACKs the part below RCV.NXT): it was needed
                        j = nhist[o] - 1
                        while j >= 0:
                            if hist[o][j, 0] < right and hist[o][j, 1] > left:
                                whole = left <= hist[o][j, 0] and hist[o][j, 1] <= right
                                if cls[hist[o][j, 2]] == RETRANSMISSION and whole:
                                    _mark_spurious(cls, basis, passed, hist[o][j, 2], hist[o][j, 3], B_DSACK)
                                    if sender_vantage[ko] and ra == right and sack_off[i + 1] - sack_off[i] == 1:
                                        _outage_copies(
                                            hist[o], j, left, right, i, d, side, rel_seq, plen, cls, basis, passed
                                        )
                                    answer_rtt = _answer_rtt(min_rtt[o], tsecr[i], t[i], ts_seen[o], ts_time[o])
                                    if np.isfinite(answer_rtt):
                                        _settle_by_answers(
                                            ipid_step1[k], ipid[i], p_ipid, p_ack, s, max_end[d], max_len[d], hist[o],
                                            nhist[o], j, left, right, t, cls, basis, passed, p_t - answer_rtt,
                                            _answerable_until(t[i], min_rtt[o], path_rtt[f]), last_new[o], a, d,
                                            side, has_ack, rel_ack, first_data[d] >= 0, i, rel_seq, plen, sack_off,
                                            sack_l, sack_r, ack_raw, 0, tsecr[i], tsval,
                                        )
                                break
                            j -= 1
                        if j < 0 and sender_vantage[ko] and first_data[o] >= 0 and ts_ok[ko]:
                            _dsack_of_first_segment(first_data[o], first_seq[o], left, right, tsecr[i], rel_seq, plen,
                                                    tsval, cls, basis)
                        j = 0
                        while j < npend[o]:
                            if cls[pend[o][j, 2]] == SPURIOUS:
                                pend[o][j] = pend[o][npend[o] - 1]
                                npend[o] -= 1
                            else:
                                j += 1
                        continue
                    for j in range(npend[o]):
                        if pend[o][j, 0] < right and pend[o][j, 1] > left:
                            pend[o][j, 4] = 1
                            r = pend[o][j, 2]
                            floor = _path_floor(min_rtt[o], path_rtt[f])
                            if np.isfinite(floor) and t[i] - t[r] < SACK_TOO_SOON * floor:
                                # SACKed before the re-send could have arrived: an earlier copy did
                                _mark_spurious(cls, basis, passed, r, pend[o][j, 3], B_SACKED_TOO_SOON)
                    # merge [left, right) into the scoreboard
                    if nsb[o] == sb[o].shape[0]:
                        sb[o] = _grow(sb[o])
                    sb[o][nsb[o], 0] = left
                    sb[o][nsb[o], 1] = right
                    nsb[o] += 1
                if nsb[o] > 0:
                    # prune below una, merge overlaps (few intervals: insertion sort)
                    cnt = 0
                    for j in range(nsb[o]):
                        lo = max(sb[o][j, 0], una[o])
                        hi = sb[o][j, 1]
                        if hi > lo:
                            sb[o][cnt, 0] = lo
                            sb[o][cnt, 1] = hi
                            cnt += 1
                    for j in range(1, cnt):
                        x0, x1 = sb[o][j, 0], sb[o][j, 1]
                        h = j - 1
                        while h >= 0 and sb[o][h, 0] > x0:
                            sb[o][h + 1] = sb[o][h]
                            h -= 1
                        sb[o][h + 1, 0] = x0
                        sb[o][h + 1, 1] = x1
                    merged = 0
                    for j in range(cnt):
                        if merged > 0 and sb[o][j, 0] <= sb[o][merged - 1, 1]:
                            if sb[o][j, 1] > sb[o][merged - 1, 1]:
                                sb[o][merged - 1, 1] = sb[o][j, 1]
                        else:
                            sb[o][merged] = sb[o][j]
                            merged += 1
                    nsb[o] = merged
                    # at the sender's side, first transmissions below the highest SACKed block
                    # that the receiver still misses were passed by a later segment
                    if sender_vantage[ko] and merged > 0:
                        top = sb[o][merged - 1, 0]
                        lo_rep = _lowest_reported(i, ra, tsval[i] >= 0, sack_off, sack_l, ack_raw)
                        x2 = max(qh[o], pm[o])
                        while x2 < qt[o] and q[o][x2, 0] <= top:
                            r = q[o][x2, 1]
                            if not _covered(sb[o], nsb[o], rel_seq[r], q[o][x2, 0]) and q[o][x2, 0] > lo_rep:
                                passed[r] = True
                            x2 += 1
                        pm[o] = max(pm[o], x2)
            if (fl & SYN) == 0:
                peer_win[o] = win[i]  # this side's window limits the other side's sending
            # remember when this side's TSval was first seen (receiver-side RTT by echo)
            if tsval[i] >= 0:
                h = tsval[i] & (_CACHE - 1)
                if ts_seen[d, h] != tsval[i]:
                    ts_seen[d, h] = tsval[i]
                    ts_time[d, h] = t[i]
                    # only an ACK that leaves the peer with data outstanding clocks out data at once
                    ts_outstanding[d, h] = has_ack[i] and max_end[o] > rel_ack[i]
                    ts_count[d, h] = 0
                ts_count[d, h] += 1
            # ---- this packet as data
            if ln > 0 and lone[d] >= 0:
                # a timer re-send leaves the sender waiting for its ACK: new data right behind it
                # means the missing IDs were something else (a coarse clock, another connection).
                # New data a round trip later is the sender's answer to that ACK (F-RTO, RFC 5682,
                # sends new data after an RTO to test it): half the minimum RTT tells them apart
                r = lone[d]
                wait = max(0.5 * _rtt(min_rtt[d]), DEFAULT_RTT_S)
                # or the one missing ID shows up now, on other bytes: a packet sent before it and
                # held on the way (seed 71: a hole's re-send overtaken by the next new segment)
                late = lone_gap[d] == 1 and ipid[i] >= 0 and ((ipid[r] - ipid[i]) & 0xFFFF) == 1 and s != rel_seq[r]
                if (s >= max_end[d] and t[i] - t[r] < wait) or late:
                    cls[r] = NEW
                    basis[r] = B_ID_GAP_EXPLAINED
                    if lost_top_row[d] == r:
                        lost_top[d] = 0
                lone[d] = -1
            if ln > 0 and top_gap[d, 1] >= 0:
                c = top_gap[d, 1]
                if cls[c] == RETRANSMISSION and _gap_shows_up(
                    ipid[i], top_gap[d, 0], ipid[lost_top_row[d]], s, e, rel_seq[c], rel_seq[c] + plen[c]
                ):
                    cls[c] = NEW
                    basis[c] = B_ID_GAP_EXPLAINED
                    top_gap[d, 1] = -1
            elif ln > 0 and lost_top[d] > 0 and e <= max_end[d] and _in_gap(
                ipid[i], top_gap[d, 0], ipid[lost_top_row[d]]
            ):
                # one of the hidden packets shows up before any segment was counted as its re-send:
                # late, not lost, and not new data above the bytes seen (seed 554: a needless
                # re-send held 34 ms on the way); unless it re-sends a hole below the re-send that
                # showed the gap, which the count had left to such re-sends (seed 815)
                if top_lower[d] > 0 and s < rel_seq[lost_top_row[d]]:
                    top_lower[d] -= 1
                else:
                    lost_top[d] -= 1
            if (fl & (SYN | RST)) != 0 and ln == 0:
                continue
            if ln == 0:
                fin = (fl & FIN) != 0
                if not fin and s == una[d] - 1 and max_end[d] <= una[d]:
                    cls[i] = WINDOW_PROBE if peer_win[d] == 0 else KEEPALIVE
                    basis[i] = B_PROBE
                elif s > max_end[d]:
                    # a FIN or a pure ACK carries its sender's next sequence number (SND.NXT):
                    # bytes below it were sent that the capture point has not seen (lost
                    # upstream, or still on the way); they leave a hole, and what fills it is
                    # classified like any hole filler (re-sent, or reordered behind a FIN)
                    holes[d] = _push_hole(holes[d], nholes[d], max_end[d], s, i)
                    nholes[d] += 1
                    max_end[d] = s
                if fin and s >= max_end[d]:
                    max_end[d] = s + 1  # the FIN takes a sequence number
                continue
            if ln <= 1 and peer_win[d] == 0 and s >= una[d] - 1:
                cls[i] = WINDOW_PROBE
                basis[i] = B_PROBE
            elif ln <= 1 and s == una[d] - 1 and max_end[d] <= una[d]:
                cls[i] = KEEPALIVE
                basis[i] = B_PROBE
            elif s >= max_end[d]:
                cls[i] = NEW
                basis[i] = B_ABOVE_HIGHEST
                # hidden packets that may have been re-sends of the holes open below (lost-tail rule);
                # the holes are scanned only where that rule can apply
                below = 0
                if nholes[d] > 0 and ipid_step1[k] and not sender_vantage[k]:
                    below = _segments_below(holes[d], nholes[d], s, max_len[d])
                if s > max_end[d]:
                    # within the hidden packets' reach, after an ID gap of its own (the re-send of
                    # the bytes below it, lost again): a re-send too. Past it, or without a gap,
                    # the sender went past them: they were something else
                    if (
                        lost_top[d] > 0
                        and e - max_end[d] <= lost_top[d] * max_len[d]
                        and _ids_missing(ipid[i], p_ipid) > 0
                        and not _sent_before(i, lost_top_row[d], tsval, ipid, t, ts_ok[k], ipid_seq[k], min_rtt[d])
                    ):
                        cls[i] = RETRANSMISSION
                        basis[i] = B_LOST_ABOVE
                        top_gap[d, 1] = i
                        lost_top[d] -= (e - max_end[d] + max_len[d] - 1) // max_len[d]
                    else:
                        lost_top[d] = 0
                        hole = (s - max_end[d] + max_len[d] - 1) // max(max_len[d], 1)
                        hole += below
                        if _lost_original(
                            sender_vantage[k], ipid_step1[k], ipid[i], p_ipid, has_ack[i], rel_ack[i], p_ack, t[i],
                            p_t, o_data_t, min_rtt[d], hole,
                        ):
                            cls[i] = RETRANSMISSION  # a loss probe of the last segment, above a lost one
                            basis[i] = B_HIDDEN_ORIGINAL
                            lone[d] = i
                            lone_gap[d] = _ids_missing(ipid[i], p_ipid)
                elif lost_top[d] > 0:
                    # re-sends a segment lost above the bytes seen, unless it was sent before the
                    # re-send that showed the gap: then it is a hidden packet, late, not lost; or
                    # in the same tick as that fast re-send: then nothing was lost above
                    if _same_tick_as_fast_resend(i, lost_top_row[d], tsval, ts_ok[k], t, top_t[d]):
                        lost_top[d] = 0
                    else:
                        if not _sent_before(i, lost_top_row[d], tsval, ipid, t, ts_ok[k], ipid_seq[k], min_rtt[d]):
                            cls[i] = RETRANSMISSION
                            basis[i] = B_LOST_ABOVE
                            top_gap[d, 1] = i
                        lost_top[d] -= 1
                elif _lost_original(
                    sender_vantage[k], ipid_step1[k], ipid[i], p_ipid, has_ack[i], rel_ack[i], p_ack, t[i], p_t,
                    o_data_t, min_rtt[d], below,
                ):
                    cls[i] = RETRANSMISSION  # its original never reached the capture point
                    basis[i] = B_HIDDEN_ORIGINAL
                    lone[d] = i
                    lone_gap[d] = _ids_missing(ipid[i], p_ipid)
                    gap = _tail_lost_after(ipid[i], p_ipid, t[i], p_t)
                    _note_hidden(lost_top, lost_top_row, top_gap, d, gap, i, p_ipid)
                    if gap > 0:
                        top_lower[d] = 0
                elif _lost_reply(
                    sender_vantage[k], ipid_step1[k], ipid[i], p_ipid, has_ack[i], rel_ack[i], p_ack, max_end[o],
                    t[i], tsecr[i], ts_seen[o], ts_time[o], p_t, _path_floor(min_rtt[o], path_rtt[f]), resent_end[o],
                    resent_t[o], answers_at_once, answers_alone,
                ):
                    cls[i] = RETRANSMISSION  # a reply lost upstream, re-sent after a timeout
                    basis[i] = B_LOST_REPLY
                    lone[d] = i
                    lone_gap[d] = _ids_missing(ipid[i], p_ipid)
                # (its timer's wait is tested here, before the call: a call with arrays costs)
                elif t[i] - p_t >= MIN_RTO_S and _more_missing_than_answers(
                    sender_vantage[k], ipid_step1[k], i, a, d, side, t, plen, flags, ipid[i], p_ipid, has_ack[i],
                    rel_ack[i], p_ack, p_t, _path_floor(min_rtt[o], path_rtt[f]), below, acked[d] >= max_end[d],
                    rel_seq, tsval, tsecr[i],
                ):
                    cls[i] = RETRANSMISSION  # its first copy hidden among the answers around it
                    basis[i] = B_MORE_MISSING_IDS
                    lone[d] = i
                    lone_gap[d] = _ids_missing(ipid[i], p_ipid)
                elif (
                    ipid_step1[k] and not sender_vantage[k] and lost_top_row[d] < top_row[d]
                    and _new_since_top(
                        i, top_row[d], a, d, side, t, rel_seq, plen, flags, cls, ipid, tsval, tsecr, below, win
                    )
                ):
                    cls[i] = RETRANSMISSION  # new data hidden since the top, that no later re-send fits
                    basis[i] = B_UNACCOUNTED_GAP
                    lost_top_row[d] = i
                    top_gap[d, 0] = top_ipid[d]
                    top_gap[d, 1] = i
                if redo[0] == i and lone[d] == i:
                    # a re-send whose first copy took one of the IDs the answer count read as
                    # answers (seeds 228 and 332): count again without it
                    _settle_by_answers(
                        ipid_step1[k], ipid[i], p_ipid, p_ack, s, max_end[d], max_len[d], hist[o], nhist[o], -1,
                        redo[1], redo[2], t, cls, basis, passed, redo_t[0], redo_t[1], last_new[o], a, d, side,
                        has_ack, rel_ack, first_data[d] >= 0, i, rel_seq, plen, sack_off, sack_l, sack_r, ack_raw, 1,
                        tsecr[i], tsval,
                    )
                # PAWS at the receiver's side: discarded on arrival, its bytes stay a hole
                top = e if _paws_discards(sender_vantage[k], ts_ok[k], tsval[i], ts_echo[d]) else s
                if top > max_end[d]:
                    holes[d] = _push_hole(holes[d], nholes[d], max_end[d], top, i)
                    nholes[d] += 1
            else:
                # below the highest sequence seen: duplicate, hole filler or re-send
                h = (s * 31 + ln) & (_CACHE - 1)
                id_informative = ipid_varies[k] and ipid[i] > 0
                same = dup[d, h, 0] == s and dup[d, h, 1] == ln and dup[d, h, 3] == tsval[i]
                opener = -1
                if _paws_discards(sender_vantage[k], ts_ok[k], tsval[i], ts_echo[d]):
                    opener = _hole_opener(holes[d], nholes[d], s, e)
                if same and (dup[d, h, 2] == ipid[i] if id_informative else (ts_ok[k] and tsval[i] >= 0)):
                    cls[i] = NET_DUP
                    basis[i] = B_DUPLICATE
                elif opener >= 0:
                    # PAWS (RFC 7323 5.3): older than the receiver's TS.Recent, discarded on
                    # arrival: the hole stays open, the bytes were not delivered. A first
                    # transmission overtaken by the hole's opener stays `new`; a re-send (sent
                    # after the opener, overtaken by a later re-send) stays a re-send
                    before = _sent_before(i, opener, tsval, ipid, t, ts_ok[k], ipid_seq[k], min_rtt[d])
                    cls[i] = NEW if before else RETRANSMISSION
                    basis[i] = B_PAWS_OVERTAKEN if before else B_PAWS_RESEND
                else:
                    # walk the holes this segment overlaps, splitting them
                    filler = -1
                    j = 0
                    while j < nholes[d]:
                        hs, he = holes[d][j, 0], holes[d][j, 1]
                        if hs < e and he > s:
                            if filler < 0:
                                filler = holes[d][j, 2]
                            if s > hs and e < he:  # split in two
                                if nholes[d] == holes[d].shape[0]:
                                    holes[d] = _grow(holes[d])
                                for x in range(nholes[d], j + 1, -1):
                                    holes[d][x] = holes[d][x - 1]
                                holes[d][j + 1, 0] = e
                                holes[d][j + 1, 1] = he
                                holes[d][j + 1, 2] = holes[d][j, 2]
                                holes[d][j, 1] = s
                                nholes[d] += 1
                                j += 2
                            elif s <= hs and e >= he:  # filled
                                for x in range(j, nholes[d] - 1):
                                    holes[d][x] = holes[d][x + 1]
                                nholes[d] -= 1
                            elif s <= hs:
                                holes[d][j, 0] = e
                                j += 1
                            else:
                                holes[d][j, 1] = s
                                j += 1
                        else:
                            j += 1
                    if filler >= 0:
                        before = _sent_before(i, filler, tsval, ipid, t, ts_ok[k], ipid_seq[k], min_rtt[d])
                        if not before:
                            cls[i] = RETRANSMISSION
                            basis[i] = B_FILLED_HOLE_LATE
                            below_s = _segments_below(holes[d], nholes[d], s, max_len[d])
                            lower = below_s
                            if lower > 0 and ipid_step1[k] and not sender_vantage[k]:
                                lower = max(lower - _resent_lately(
                                    i, a, d, side, t, rel_seq, plen, ipid, cls, holes[d][0, 0], holes[d][0, 2],
                                    _path_floor(min_rtt[d], path_rtt[f]),
                                ), 0)
                            if (
                                n_late[d] > 0 and ipid_step1[k] and not sender_vantage[k]
                                and _ids_missing(ipid[i], p_ipid) > 0
                            ):
                                # late segments the sender had not heard of: re-sent before it too
                                heard = _echoed_ack(i, a, d, side, has_ack, rel_ack, tsval, tsecr[i])
                                lower += _late_below(late_seq[d], s, max_len[d], heard, False)
                            if t[i] - p_t >= MIN_RTO_S and ipid_step1[k] and not sender_vantage[k]:
                                # a timer re-send: before it fired, the fast re-sends of the holes
                                # above went out too, and may be hidden (seed 480: a blackout)
                                lower += _segments_below(holes[d], nholes[d], max_end[d], max_len[d]) - below_s
                            chain = _after_counted_gap(lost_top[d], lost_top_row[d], top_gap[d, 1], ipid, p_ipid)
                            p_resent = chain or _fast_resend_after_top(
                                p_ipid, p_t, top_ipid[d], top_t[d], resent_t[d], resent_end[d], s
                            )
                            gap = _lost_above(
                                sender_vantage[k], ipid_step1[k], ipid[i], p_ipid, top_ipid[d], lower,
                                o_data_t, t[i], p_t, p_resent, _path_floor(min_rtt[d], path_rtt[f]),
                            )
                            _note_hidden(lost_top, lost_top_row, top_gap, d, gap, i, p_ipid, chain)
                            if gap > 0 and not chain:
                                top_lower[d] = lower
                        elif plen[filler] > 0 or (flags[filler] & FIN) != 0:
                            cls[i] = REORDERED
                            basis[i] = B_FILLED_HOLE_EARLY
                            late_seq[d, n_late[d] % _RECENT_LATE] = s
                            n_late[d] += 1
                        else:
                            # overtaken only by a pure ACK: the receiving TCP saw no gap in its
                            # byte stream, so this is not reordering (RFC 4737 counts packets
                            # that carry sequence space). Unless it was a lost reply's re-send,
                            # by the sender's packets before that ACK (seed 790)
                            cls[i] = NEW
                            basis[i] = B_BEHIND_PURE_ACK
                            r = _sent_last_before(filler, a, d, side, ipid)
                            if r >= 0 and _lost_reply(
                                sender_vantage[k], ipid_step1[k], ipid[i], ipid[r], has_ack[i], rel_ack[i],
                                rel_ack[r] if has_ack[r] else -1, max_end[o], t[i], tsecr[i], ts_seen[o], ts_time[o],
                                t[r], _path_floor(min_rtt[o], path_rtt[f]), resent_end[o], resent_t[o],
                                answers_at_once, answers_alone,
                            ):
                                cls[i] = RETRANSMISSION
                                basis[i] = B_LOST_REPLY
                    elif sender_vantage[k] and e <= una[d]:
                        cls[i] = SPURIOUS  # the peer had already acknowledged these bytes
                        basis[i] = B_ACKED_BEFORE
                    elif sender_vantage[k] and win_drop[d] and s == una[d]:
                        cls[i] = SPURIOUS  # a copy had arrived; the receiver had no room for it
                        basis[i] = B_WINDOW_DROP
                    elif sender_vantage[k]:
                        cls[i] = RETRANSMISSION
                        basis[i] = B_RESENT
                        if npend[d] == pend[d].shape[0]:
                            pend[d] = _grow(pend[d])
                        pend[d][npend[d], 0] = s
                        pend[d][npend[d], 1] = e
                        pend[d][npend[d], 2] = i
                        pend[d][npend[d], 3] = _original(q[d], qh[d], qt[d], rel_seq, s, e)
                        pend[d][npend[d], 4] = 0
                        if nhist[d] == hist[d].shape[0]:
                            hist[d] = _grow(hist[d])
                        hist[d][nhist[d]] = pend[d][npend[d], :4]
                        nhist[d] += 1
                        npend[d] += 1
                    elif s < first_seq[d] and _peer_acked(i, a, d, side, has_ack, rel_ack, una[d]) < e:
                        # sent before the capture started and not yet acknowledged: lost upstream
                        cls[i] = RETRANSMISSION
                        basis[i] = B_SENT_BEFORE_CAPTURE
                    elif e > max_end[d] and ipid_step1[k] and _ids_missing(ipid[i], p_ipid) > 0:
                        # a re-send that runs past the highest byte seen, after an ID gap (Linux
                        # joins small segments when its timer re-sends them): the bytes past it
                        # went out in a hidden packet, lost, and this copy delivered them (seed
                        # 475: a chat reply's 330 bytes lost, re-sent joined to the one before)
                        cls[i] = RETRANSMISSION
                        basis[i] = B_HIDDEN_ORIGINAL
                    else:
                        cls[i] = SPURIOUS  # bytes the receiver side had already seen
                        basis[i] = B_SEEN_BEFORE
                        # a needless re-send of a hole filled meanwhile by its late original
                        # shows the same ID gap; the holes still open below it and the late
                        # segments held with it may have been re-sent (lost) before it
                        lower = -1
                        if (late_seq[d] == s).any():
                            lower = _segments_below(holes[d], nholes[d], s, max_len[d])
                            heard = _echoed_ack(i, a, d, side, has_ack, rel_ack, tsval, tsecr[i])
                            lower += _late_below(late_seq[d], s, max_len[d], heard, True)
                        chain = _after_counted_gap(lost_top[d], lost_top_row[d], top_gap[d, 1], ipid, p_ipid)
                        p_resent = chain or _fast_resend_after_top(
                            p_ipid, p_t, top_ipid[d], top_t[d], resent_t[d], resent_end[d], s
                        )
                        gap = _lost_above(
                            sender_vantage[k], ipid_step1[k], ipid[i], p_ipid, top_ipid[d], lower, o_data_t, t[i], p_t,
                            p_resent, _path_floor(min_rtt[d], path_rtt[f]),
                        )
                        _note_hidden(lost_top, lost_top_row, top_gap, d, gap, i, p_ipid, chain)
                        if gap > 0 and not chain:
                            top_lower[d] = max(lower, 0)
                    # Karn: a re-sent range gives no RTT sample
                    if cls[i] != REORDERED:
                        for x in range(qh[d], qt[d]):
                            if rel_seq[q[d][x, 1]] >= e:
                                break
                            if q[d][x, 0] > s:
                                q[d][x, 2] = 1
            h = (s * 31 + ln) & (_CACHE - 1)
            dup[d, h, 0] = s
            dup[d, h, 1] = ln
            dup[d, h, 2] = ipid[i]
            dup[d, h, 3] = tsval[i]
            if cls[i] == RETRANSMISSION or cls[i] == SPURIOUS:
                resent_end[d] = e
                resent_t[d] = t[i]
            if cls[i] == NEW:
                last_new[d] = i
                q[d][qt[d], 0] = e
                q[d][qt[d], 1] = i
                q[d][qt[d], 2] = 0
                qt[d] += 1
                # receiver-side RTT: peer's TSval -> first data that echoes it
                if tsecr[i] >= 0:
                    h = tsecr[i] & (_CACHE - 1)
                    if ts_seen[o, h] == tsecr[i] and not np.isnan(ts_time[o, h]):
                        if ts_outstanding[o, h]:
                            rtt_echo[i] = t[i] - ts_time[o, h]
                            if not sender_vantage[k] and rtt_echo[i] < min_rtt[d]:
                                min_rtt[d] = rtt_echo[i]
                        ts_time[o, h] = np.nan
            if e > max_end[d]:
                max_end[d] = e
                top_ipid[d] = ipid[i]
                top_t[d] = t[i]
                top_row[d] = i
            if cls[i] >= 0:
                sacked = 0
                for j in range(nsb[d]):
                    lo = max(sb[d][j, 0], una[d])
                    hi = min(sb[d][j, 1], max_end[d])
                    if hi > lo:
                        sacked += hi - lo
                inflight[i] = max(max_end[d] - max(una[d], -(1 << 62)) - sacked, 0)
    return cls, basis, inflight, rtt_ack, rtt_echo
