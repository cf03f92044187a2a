"""Which misclassified segments left no evidence at the capture point (`verify` prints them).

A truth label comes from the relay's log; the classifier sees only the capture. For these
kinds of miss the capture itself shows that nothing in it could tell:
- `no ACK showed it`: a segment truly `reordered`, seen at its sender's side, where no ACK of
  the receiver, before one covers the segment's bytes, SACKs bytes above it or repeats its ACK
  number (a duplicate ACK). The receiver held the overtaking segment without saying so (Linux
  compresses SACKs while it holds out-of-order data: net.ipv4.tcp_comp_sack_*), or the ACK that
  said so was lost on the way back.
- `first of its side`: a needed re-send, seen at the receiver's side, that is the first packet
  of its side in the capture. Its original never got there, so only the sender's earlier
  packets (an IP ID or timestamp gap) could show it was a re-send, and there are none (a chat
  message lost before the capture point saw its connection). At the sender's side the same:
  its original was sent before the capture started (seed 218: the phone's message re-sent by
  its timer as the capture began, lost again, and re-sent once more).
- `fewer answers than copies`: a re-send, seen at its sender's side, of bytes sent in two or
  more copies before the receiver's first packet that covers them, a D-SACK of the last one:
  the receiver's IP IDs count fewer packets missing in that time (less the data it sent
  unseen, in packets of its largest seen or of 536 bytes, IPv4's default MSS, whichever is
  larger) than there were earlier copies, but at least one, so some of those were lost and
  some arrived, and nothing in the capture says which (the D-SACK echoes the duplicate's
  TSval: Linux takes TS.Recent from it). Said only of a copy whose earlier copies may all have
  been lost: when one of three earlier copies was lost, the third was needless whichever it was.
  Had they all been lost, the receiver's own data that only they acknowledged was re-sent by its
  timer, and those re-sends take missing IDs too (seeds 175 and 178: the same capture, the
  first copy lost in one and arrived in the other).
- `answered only by resets`: a re-send, seen at its sender's side, of bytes first sent after
  the receiver's FIN, where every packet of the receiver after the first copy is a reset (or
  there is none). The receiver's application had closed: Linux answers each copy that reaches
  a closed socket with a reset from the stack, with IP ID 0, no SACK and no timestamp, so no
  answer counts or names the copy it answers (seed 127: a chat reply, its loss probe and its
  timer re-send after the phone's FIN; one reset seen).
- `gap fits both`: a needed re-send, seen at the receiver's side, taken for new: it starts at
  the highest byte seen, and the sender's packet after its highest segment was a re-send of a
  hole, after an ID gap of no more packets than the segments of the holes still open below that
  re-send, with no other ID gap of the sender's in the round trip before it. The hidden packets
  were re-sends of those holes, lost again, or this segment's first copy, lost above the bytes
  seen: the packets seen are the same, and so are their IDs (seed 234: the download's last
  segment, with the FIN, hidden before the re-send of a hole with one hole below it; the
  classifier takes the hidden packet for that hole's re-send). Said only where no earlier gap
  shows that hole re-sent sooner than a round trip before (the classifier reads that: seeds
  210 and 261), and where the sender's echoes leave it open: a copy of a hole, lost, leaves the
  hole open or needs a later re-send that could know of that loss (one a timer after the highest
  segment, or echoing a packet the receiver sent after the re-send after the gap arrived); with
  fewer of those than hidden packets, the hidden packets were not all such copies (the
  classifier reads that too, `unaccounted_gap`: seed 506, fourteenth session).
- `missing IDs may be answers`: a segment, seen at its receiver's side and taken for the re-send
  of a message whose first copy was lost (the lost-reply rule), that starts at the next byte
  expected and acknowledges new data of the other side, after one or two missing IDs of its
  sender, no more than the other side's data packets sent after the sender's previous packet
  and a round trip or more before this one arrived. Those IDs may have been the first copy (and
  an answer), or answers only, ACKs and D-SACKs of the other side's copies (or a re-send of the
  sender's own last message, which a lost copy of the other's would have acknowledged), lost on
  the way, with the segment new; and the other side's re-send its first packet covers is then
  needless or needed with it (seed 187: the phone's ACK of a chat reply and its D-SACK of the
  reply's loss probe, both lost, then its next message 326 ms after the probe, echoing it; seed
  308: the reply lost, the phone's re-send of its message, the probe's ACK lost). Said of
  both: the segment, and at the sender's side a re-send whose bytes the receiver's first
  packet that covers them acknowledges, when that packet is such a segment and came a round
  trip or more after the re-send (one it could not have answered was needless either way).
  Said too of such a segment taken for new that was a re-send (the lost-reply rule did not
  fire: the receiver had not re-sent, and the sender's replies had not come at once).
- `SACKed like a needed copy`: a needless re-send, seen at its sender's side and taken for a
  needed one, whose bytes the receiver first reported in a SACK block (not a D-SACK, not a
  cumulative ACK) no sooner than the path's smallest round trip after it (the smallest RTT of any
  connection between the two hosts), and never reported as a duplicate: the re-send itself was
  lost, so no D-SACK came, and the SACK, from the earlier copy held on the way, came when a
  needed copy's could have (sooner, it can only be an earlier copy's; the classifier reads that
  below 0.7 of the round trip, `sacked_too_soon`, docs/classification.md). Said too of that
  earlier copy, `reordered` and taken for `new` (it was re-sent, and its re-send was not shown
  needless). Over the lab's 217 sets, 2,812
  needed re-sends were first reported in a SACK block, the soonest at 0.26 of the connection's
  latest RTT samples (a queue that drained after the loss), and this one needless re-send at 0.34
  (seed 360: an upload behind a full queue, RTT samples near 200 ms, a segment held 187 ms by the
  relay, its fast re-send lost, the SACK 68 ms after the re-send).
Any other miss is the classifier's (or not yet explained) and gets no reason.
"""

from __future__ import annotations

import polars as pl

from tcpscope.lab.score import Check
from tcpscope.tcpstate import FIN, MAX_IPID_GAP, MIN_RTO_S, PROBE_MAX_MISSING, RST, SYN, _ids_missing, _s32

# a segment size any IPv4 peer may send (RFC 9293 3.7.1): unseen bytes of a chat took at least
# one packet per this many, where the capture shows no segment as large (seed 559: a 431-byte
# message counted as two packets of the largest seen, 406, left no ID for the reply's answer)
DEFAULT_MSS = 536

NO_ACK_SHOWED = "no ACK showed it"
FIRST_OF_SIDE = "first of its side"
FEWER_ANSWERS = "fewer answers than copies"
RESETS_ONLY = "answered only by resets"
GAP_FITS_BOTH = "gap fits both"
MAY_BE_ANSWERS = "missing IDs may be answers"
SACKED_IN_TIME = "SACKed like a needed copy"


def _segment(segments: pl.DataFrame, frame: int) -> dict:
    """The analysis row of the packet at `frame`."""
    return segments.filter(pl.col("frame") == frame).row(0, named=True)


def _sack_blocks(acks: pl.DataFrame) -> pl.DataFrame:
    """The SACK blocks of `acks` (`_i`: the ACK's row), relative like `rel_ack` (wrap-safe)."""

    def rel(c: str) -> pl.Expr:
        off = pl.col(c).cast(pl.Int64) - pl.col("ack").cast(pl.Int64)
        return pl.col("rel_ack") + ((off + (1 << 31)) % (1 << 32) - (1 << 31))

    return (
        acks.with_row_index("_i")
        .select("_i", "sack_left", "sack_right", "ack", "rel_ack")
        .explode("sack_left", "sack_right")
        .filter(pl.col("sack_left").is_not_null())
        .select("_i", left=rel("sack_left"), right=rel("sack_right"))
    )


def _no_ack_showed(segments: pl.DataFrame, frame: int) -> bool:
    """Did no ACK of the receiver show the segment at `frame` late (see the module docstring)?"""
    seg = _segment(segments, frame)
    lo, hi = seg["rel_seq"], seg["rel_seq"] + seg["len"]
    acks = segments.filter(
        (pl.col("flow_id") == seg["flow_id"])
        & (pl.col("from_client") != seg["from_client"])
        & (pl.col("t") > seg["t"])
        & pl.col("rel_ack").is_not_null()
    ).sort("t", maintain_order=True)
    blocks = _sack_blocks(acks)
    covering = blocks.filter((pl.col("left") <= lo) & (pl.col("right") >= hi))["_i"].implode()
    covered = acks.with_row_index("_i").filter((pl.col("rel_ack") >= hi) | pl.col("_i").is_in(covering))
    end = covered["_i"].min() if covered.height else acks.height
    if blocks.filter((pl.col("_i") < end) & (pl.col("left") >= hi)).height:
        return False  # a SACK above it while it was missing
    before = acks.head(end).with_columns(prev=pl.col("rel_ack").shift(1))
    dup = before.filter((pl.col("len") == 0) & (pl.col("rel_ack") == lo) & (pl.col("prev") == lo))
    return dup.height == 0


def _first_of_side(segments: pl.DataFrame, frame: int) -> bool:
    """Is the segment at `frame` the first packet of its side of its connection in the capture?"""
    seg = _segment(segments, frame)
    earlier = segments.filter(
        (pl.col("flow_id") == seg["flow_id"]) & (pl.col("from_client") == seg["from_client"]) & (pl.col("t") < seg["t"])
    )
    return earlier.height == 0


def _copies(segments: pl.DataFrame, frame: int) -> tuple[int, int, pl.DataFrame, pl.Expr, pl.DataFrame]:
    """For the segment at `frame`: its bytes [lo, hi), its connection's rows, the expression
    that picks its own side's rows, and every copy of its bytes that side sent."""
    seg = _segment(segments, frame)
    lo, hi = seg["rel_seq"], seg["rel_seq"] + seg["len"]
    flow = segments.filter(pl.col("flow_id") == seg["flow_id"])
    mine = pl.col("from_client") == seg["from_client"]
    copies = flow.filter(mine & (pl.col("rel_seq") < hi) & (pl.col("rel_seq") + pl.col("len") > lo))
    return lo, hi, flow, mine, copies


def _fewer_answers(segments: pl.DataFrame, frame: int) -> bool:
    """Is the re-send at `frame` one of two or more copies, before a D-SACKed last one, that
    drew fewer answers than there were copies (see the module docstring)?"""
    lo, hi, flow, mine, copies = _copies(segments, frame)
    first = copies["t"].min()
    theirs = flow.filter(~mine & pl.col("ip_id").is_not_null())
    cover = theirs.filter((pl.col("t") > first) & (pl.col("rel_ack") >= hi)).head(1)
    before = theirs.filter(pl.col("t") < first).tail(1)
    if cover.height == 0 or before.height == 0:
        return False
    t_cover, rel_ack = cover["t"][0], cover["rel_ack"][0]
    dsack = _sack_blocks(cover).filter((pl.col("left") <= lo) & (pl.col("right") >= hi) & (pl.col("right") <= rel_ack))
    copy_frames = copies["frame"].implode()
    other_data = flow.filter(
        mine & (pl.col("len") > 0) & pl.col("t").is_between(first, t_cover) & ~pl.col("frame").is_in(copy_frames)
    )
    frames = copies.filter(pl.col("t") < t_cover)["frame"].to_list()  # the copies sent before it
    if dsack.height == 0 or other_data.height or frame not in frames[:-1]:
        return False  # no D-SACK of the last copy; other data drew answers too; or this is that copy
    # the receiver's packets missing between its last one before the first copy and the D-SACK,
    # less those seen in between and the data it sent that the capture never saw (its sequence
    # number is past the bytes seen)
    missing = (int(cover["ip_id"][0]) - int(before["ip_id"][0]) - 1) % (1 << 16)
    seen = theirs.filter(pl.col("t") < t_cover)
    missing -= seen.filter(pl.col("t") > first).height
    top = (seen["rel_seq"] + seen["len"]).max()
    unseen_bytes = int(cover["rel_seq"][0]) - (int(top) if top is not None else int(cover["rel_seq"][0]))
    if unseen_bytes > 0:  # in packets of the largest seen, or of IPv4's default MSS (RFC 9293)
        missing -= -(-unseen_bytes // max(int(seen["len"].max() or 0), DEFAULT_MSS))
    # the copy at `place` is a needed re-send in one story and a needless one in another when at
    # least one copy may have drawn an answer (needless: an earlier copy arrived) and the missing
    # packets leave room for every copy before it to have been lost (needed): then at most
    # `earlier - place` of them were answers, and the others the receiver's re-sends of its own
    # data that only those copies acknowledged
    earlier = len(frames) - 1
    place = frames.index(frame)
    if not (earlier >= 2 and 1 <= missing <= MAX_IPID_GAP and 1 <= place):
        return False
    answers = max(missing - _own_resends(flow, mine, copies, copies.filter(pl.col("frame") == frame)["t"][0]), 0)
    return answers <= earlier - place


def _own_resends(flow: pl.DataFrame, mine: pl.Expr, copies: pl.DataFrame, t_place: float) -> int:
    """How many times the receiver may have re-sent its own last data before the copy sent at
    `t_place` reached it, had every copy before that one been lost: that data must have been
    acknowledged first by the first copy (no packet of the sender before it covers it), and its
    retransmission timer (at least MIN_RTO_S plus the RTT, doubling) had time to fire more often
    than the capture shows it re-sent (seed 175: a chat reply
    lost with the phone's two next packets, its message re-sent and the answer to the reply's
    loss probe)."""
    first = copies.sort("t").row(0, named=True)
    data = flow.filter(~mine & (pl.col("len") > 0) & (pl.col("t") < first["t"])).tail(1)
    if data.height == 0:
        return 0
    end, t_data = data["rel_seq"][0] + data["len"][0], data["t"][0]
    acked_before = flow.filter(
        mine & pl.col("t").is_between(t_data, first["t"], closed="none") & (pl.col("rel_ack") >= end)
    )
    if acked_before.height or first["rel_ack"] is None or first["rel_ack"] < end:
        return 0
    # Linux's RTO is at least the smoothed RTT plus MIN_RTO_S; the re-sends the capture saw
    # took their turns already
    wait = MIN_RTO_S + _min_rtt(flow)
    n = 0
    while wait * (2 ** (n + 1) - 1) <= t_place - t_data:
        n += 1
    seen = flow.filter(~mine & (pl.col("len") > 0) & pl.col("t").is_between(t_data, t_place, closed="none")
                       & (pl.col("rel_seq") < end))
    return max(n - seen.height, 0)


def _min_rtt(flow: pl.DataFrame) -> float:
    """The connection's smallest RTT sample in seconds, else its handshake's span (SYN to the
    ACK after the SYN-ACK: a round trip from either side), else 0."""
    rtt = flow["rtt_ms"].min()
    if rtt is not None:
        return float(rtt) / 1000
    syn = flow.filter((pl.col("flags") & SYN) != 0).sort("t")
    if syn.height < 2:
        return 0.0
    ack = flow.filter((pl.col("t") > syn["t"][1]) & ((pl.col("flags") & SYN) == 0)).head(1)
    return float(ack["t"][0] - syn["t"][0]) if ack.height else 0.0


def _resets_only(segments: pl.DataFrame, frame: int) -> bool:
    """Were the bytes of the re-send at `frame` first sent after the receiver's FIN, and is every
    packet of the receiver after that a reset (see the module docstring)?"""
    _, _, flow, mine, copies = _copies(segments, frame)
    first = copies["t"].min()
    theirs = flow.filter(~mine)
    fin = theirs.filter((pl.col("t") < first) & ((pl.col("flags") & FIN) != 0))
    after = theirs.filter(pl.col("t") > first)
    return fin.height > 0 and after.filter((pl.col("flags") & RST) == 0).height == 0


def _path_rtt(segments: pl.DataFrame, seg: dict) -> float:
    """The smallest round trip in seconds of any connection between the two hosts of `seg` (its
    RTT samples, else its handshake), 0 when none is known."""
    hosts = pl.concat_list("src", "dst").list.sort()
    pair = sorted([seg["src"], seg["dst"]])
    ids = segments.filter(hosts == pl.lit(pair))["flow_id"].unique().to_list()
    rtts = [r for r in (_min_rtt(segments.filter(pl.col("flow_id") == f)) for f in ids) if r > 0]
    return min(rtts, default=0.0)


def _sacked_in_time(segments: pl.DataFrame, frame: int) -> bool:
    """Was the re-send at `frame` first reported by a plain SACK block a round trip or more
    after it, and never as a duplicate (see the module docstring)?"""
    seg = _segment(segments, frame)
    lo, hi = seg["rel_seq"], seg["rel_seq"] + seg["len"]
    acks = segments.filter(
        (pl.col("flow_id") == seg["flow_id"]) & (pl.col("from_client") != seg["from_client"]) & (pl.col("t") > seg["t"])
        & pl.col("rel_ack").is_not_null()
    ).sort("t", maintain_order=True)
    blocks = _sack_blocks(acks).join(acks.with_row_index("_i").select("_i", "rel_ack", "t"), on="_i")
    dup = blocks.filter((pl.col("left") < hi) & (pl.col("right") > lo) & (pl.col("right") <= pl.col("rel_ack")))
    cover = blocks.filter((pl.col("left") <= lo) & (pl.col("right") >= hi) & (pl.col("left") > pl.col("rel_ack")))
    first_ack = acks.filter(pl.col("rel_ack") >= hi)["t"].min()
    if dup.height or cover.height == 0 or (first_ack is not None and first_ack < cover["t"].min()):
        return False
    floor = _path_rtt(segments, seg)
    return floor > 0 and cover["t"].min() - seg["t"] >= floor


def _resent_in_time(segments: pl.DataFrame, frame: int) -> bool:
    """Was the segment at `frame` re-sent, in a re-send `_sacked_in_time` holds for?"""
    seg = _segment(segments, frame)
    lo, hi = seg["rel_seq"], seg["rel_seq"] + seg["len"]
    resends = segments.filter(
        (pl.col("flow_id") == seg["flow_id"]) & (pl.col("from_client") == seg["from_client"]) & (pl.col("t") > seg["t"])
        & (pl.col("rel_seq") <= lo) & (pl.col("rel_seq") + pl.col("len") >= hi)
        & (pl.col("seg_class") == "retransmission")
    )
    return any(_sacked_in_time(segments, f) for f in resends["frame"].to_list())


def _hole_segments_below(data: pl.DataFrame, s: int) -> int:
    """How many segments (of the side's largest size, rounded up per hole) the holes below `s`
    span between the bytes `data` (a side's data rows) holds, from its lowest byte up."""
    seg = max(int(data["len"].max()), 1)
    count, reach = 0, None
    for lo, hi in sorted(zip(data["rel_seq"].to_list(), (data["rel_seq"] + data["len"]).to_list())):
        if reach is not None and lo > reach and reach < s:
            count += (min(lo, s) - reach + seg - 1) // seg
        reach = hi if reach is None else max(reach, hi)
    return count


def _gap_fits_both(segments: pl.DataFrame, frame: int) -> bool:
    """Could the ID gap after its side's highest segment, before a hole re-send, have hidden
    either the segment at `frame` or re-sends of lower holes (see the module docstring)?"""
    seg = _segment(segments, frame)
    flow = segments.filter(pl.col("flow_id") == seg["flow_id"])
    side = flow.filter((pl.col("from_client") == seg["from_client"]) & (pl.col("t") < seg["t"]))
    side = side.sort("t", maintain_order=True).with_row_index("_i")
    data = side.filter(pl.col("len") > 0)
    if data.height == 0 or (data["rel_seq"] + data["len"]).max() != seg["rel_seq"]:
        return False
    top = data.filter(pl.col("rel_seq") + pl.col("len") == seg["rel_seq"]).row(0, named=True)
    nxt = side.filter(pl.col("_i") == top["_i"] + 1)
    if nxt.height == 0:
        return False
    q = nxt.row(0, named=True)
    n = _ids_missing(q["ip_id"], top["ip_id"])  # 0 unless 1 to MAX_IPID_GAP
    if q["len"] == 0 or q["rel_seq"] >= top["rel_seq"] or n == 0:
        return False
    recent = side.filter((pl.col("_i") <= q["_i"]) & (pl.col("t") >= q["t"] - _min_rtt(flow)))
    ids = recent["ip_id"].to_list()
    gaps = sum(_ids_missing(b, a) > 0 for a, b in zip(ids, ids[1:]))
    if gaps > 1:
        return False  # another gap within a round trip may show a hole's copy
    if _hole_segments_below(data.filter(pl.col("_i") < q["_i"]), q["rel_seq"]) < n:
        return False
    # a hidden copy of a hole, lost, leaves the hole open at `frame` or needs a later re-send
    # that could know of that loss: sent a timer after the highest segment, or echoing the
    # receiver's first packet after `q` arrived, or a later one (no TSecr: it may)
    heard = flow.filter((pl.col("from_client") != seg["from_client"]) & (pl.col("t") > q["t"]))
    heard = heard.filter(pl.col("opt_tsval").is_not_null())["opt_tsval"].head(1).to_list()
    later = data.filter(
        (pl.col("_i") > q["_i"]) & pl.col("seg_class").is_in(["retransmission", "spurious_retransmission"])
    )
    could = [
        r["t"] - top["t"] >= MIN_RTO_S
        or r["opt_tsecr"] is None
        or (bool(heard) and _s32(r["opt_tsecr"] - heard[0]) >= 0)
        for r in later.iter_rows(named=True)
    ]
    return sum(could) + _hole_segments_below(data, seg["rel_seq"]) >= n


def _may_be_answers(segments: pl.DataFrame, frame: int) -> bool:
    """Could the IDs missing before the in-order segment at `frame` have been its sender's answers
    to the other side's data, as well as a lost first copy of it (see the module docstring)?"""
    seg = _segment(segments, frame)
    flow = segments.filter(pl.col("flow_id") == seg["flow_id"]).sort("t", maintain_order=True)
    mine = flow.filter((pl.col("from_client") == seg["from_client"]) & (pl.col("t") < seg["t"]))
    if mine.height == 0 or seg["rel_ack"] is None:
        return False
    prev = mine.row(mine.height - 1, named=True)
    data = mine.filter(pl.col("len") > 0)
    top = (data["rel_seq"] + data["len"]).max() if data.height else seg["rel_seq"]
    n = _ids_missing(seg["ip_id"], prev["ip_id"])
    if seg["rel_seq"] != top or prev["rel_ack"] is None or seg["rel_ack"] <= prev["rel_ack"]:
        return False
    if not 1 <= n <= PROBE_MAX_MISSING:  # _ids_missing: 0 for none or a counter jump
        return False
    theirs = flow.filter(
        (pl.col("from_client") != seg["from_client"])
        & ((pl.col("len") > 0) | ((pl.col("flags") & FIN) != 0))
        & (pl.col("t") > prev["t"])
        & (pl.col("t") <= seg["t"] - _min_rtt(flow))
    )
    return n <= theirs.height


def _acked_by_may_be_answers(segments: pl.DataFrame, frame: int) -> bool:
    """Is the receiver's first packet that acknowledges all of the re-send at `frame` one taken for
    a lost message's re-send where the missing IDs may have been answers?"""
    seg = _segment(segments, frame)
    hi = seg["rel_seq"] + seg["len"]
    flow = segments.filter(pl.col("flow_id") == seg["flow_id"])
    cover = flow.filter(
        (pl.col("from_client") != seg["from_client"]) & (pl.col("t") > seg["t"]) & (pl.col("rel_ack") >= hi)
    ).sort("t", maintain_order=True)
    if cover.height == 0:
        return False
    first = cover.row(0, named=True)
    if first["len"] == 0 or first["seg_class"] != "retransmission":
        return False
    # a re-send that reached the receiver after it sent that packet is needless in both stories
    return seg["t"] <= first["t"] - _min_rtt(flow) and _may_be_answers(segments, first["frame"])


def unseen(segments: pl.DataFrame, matched: pl.DataFrame) -> pl.DataFrame:
    """The misses (`matched` rows whose prediction differs from the truth) with the reason the
    capture could not show them, or a null reason. `segments` is the analysis of the capture."""
    miss = matched.filter(pl.col("truth") != pl.col("pred"))
    reasons = []
    for r in miss.iter_rows(named=True):
        reason = None
        if r["truth"] == "reordered" and r["pred"] == "new" and r.get("at_sender"):
            if _no_ack_showed(segments, r["frame"]):
                reason = NO_ACK_SHOWED
            elif _resent_in_time(segments, r["frame"]):
                reason = SACKED_IN_TIME
        elif r["truth"] == "retransmission" and r["pred"] == "new" and _first_of_side(segments, r["frame"]):
            reason = FIRST_OF_SIDE
        elif r["truth"] == "retransmission" and r["pred"] == "new" and r.get("at_sender") is False:
            if _gap_fits_both(segments, r["frame"]):
                reason = GAP_FITS_BOTH
            elif _may_be_answers(segments, r["frame"]):
                reason = MAY_BE_ANSWERS  # the other story: a lost pure ACK, then this new message
        elif {r["truth"], r["pred"]} == {"retransmission", "spurious_retransmission"} and r.get("at_sender"):
            if _fewer_answers(segments, r["frame"]):
                reason = FEWER_ANSWERS
            elif _resets_only(segments, r["frame"]):
                reason = RESETS_ONLY
            elif _acked_by_may_be_answers(segments, r["frame"]):
                reason = MAY_BE_ANSWERS
            elif r["truth"] == "spurious_retransmission" and _sacked_in_time(segments, r["frame"]):
                reason = SACKED_IN_TIME
        elif r["truth"] == "new" and r["pred"] == "retransmission" and r.get("at_sender") is False:
            reason = MAY_BE_ANSWERS if _may_be_answers(segments, r["frame"]) else None
        reasons.append(reason)
    return miss.with_columns(reason=pl.Series(reasons, dtype=pl.String))


def bound_misses(check: Check, misses: pl.DataFrame) -> pl.DataFrame:
    """The misses that count against one bound: an F1 bound's class on either side of the miss,
    or a loss bound's flow direction with a retransmission on either side."""
    if check.cls is not None:
        return misses.filter((pl.col("truth") == check.cls) | (pl.col("pred") == check.cls))
    if check.flow is not None:
        src, sport, dst, dport = check.flow
        same = (pl.col("src") == src) & (pl.col("sport") == sport) & (pl.col("dst") == dst) & (pl.col("dport") == dport)
        resent = (pl.col("truth") == "retransmission") | (pl.col("pred") == "retransmission")
        return misses.filter(same & resent)
    return misses
