"""Analysis on packet sequences whose truth is known by construction (see tests/packetgen.py)."""

from __future__ import annotations

import polars as pl
import pytest

from packetgen import ACK, FIN, PSH, RST, SYN, Conn, Endpoint, chat_beside_an_upload, frame
from tcpscope.analysis import analyze

PHONE, SERVER = "192.168.2.2", "203.0.113.10"
MSS = 1000


def _classes(segments: pl.DataFrame, src: str) -> list[str | None]:
    return segments.filter((pl.col("src") == src) & (pl.col("len") > 0))["seg_class"].to_list()


def _bases(segments: pl.DataFrame, src: str) -> list[str | None]:
    """Each data segment's `seg_basis`: the rule that set its class."""
    return segments.filter((pl.col("src") == src) & (pl.col("len") > 0))["seg_basis"].to_list()


def _ten_segments_up(c: Conn, t: float, lost: int) -> None:
    """The phone sends ten segments; segments 3 .. 2 + `lost` are lost after the capture point. The
    server's ACKs come back one RTT later: 1-2 acknowledged, then duplicate ACKs SACKing the rest."""
    for k in range(10):
        c.send(t + 0.001 * k, c.client, 1 + k * MSS, MSS, rel_ack=1)
    c.send(t + 0.1, c.server, 1, rel_ack=1 + 2 * MSS)
    for k in range(3 + lost, 11):
        c.send(t + 0.1 + 0.001 * k, c.server, 1, rel_ack=1 + 2 * MSS, sack=[(1 + (2 + lost) * MSS, 1 + k * MSS)])


def _upload_with_loss() -> Conn:
    """Client-side capture of an upload: segment 3 lost after the capture point, segment 8
    re-sent needlessly (the receiver reports it with a D-SACK)."""
    c = Conn(Endpoint(PHONE, 53671, 1_000_000), Endpoint(SERVER, 443, 5_000_000))
    t = c.handshake(1.0, rtt=0.1)
    _ten_segments_up(c, t, lost=1)
    c.send(t + 0.12, c.client, 1 + 2 * MSS, MSS, rel_ack=1)  # fast retransmission of segment 3
    c.send(t + 0.221, c.server, 1, rel_ack=1 + 10 * MSS)
    c.send(t + 0.25, c.client, 1 + 7 * MSS, MSS, rel_ack=1)  # needless re-send of segment 8
    c.send(t + 0.35, c.server, 1, rel_ack=1 + 10 * MSS, sack=[(1 + 7 * MSS, 1 + 8 * MSS)])  # D-SACK
    return c


def test_sender_side_retransmission_and_dsack_spurious() -> None:
    a = analyze(frame(_upload_with_loss()), device=PHONE)
    classes = _classes(a.segments, PHONE)
    assert classes == ["new"] * 10 + ["retransmission", "spurious_retransmission"]
    up = a.flows.filter(pl.col("sender") == "client").row(0, named=True)
    assert up["vantage"] == "client" and up["direction"] == "up" and up["sender_is_device"]
    assert up["n_retransmission"] == 1 and up["n_spurious_retransmission"] == 1
    assert up["loss_rate"] == pytest.approx(1 / 11)  # the spurious re-send is not counted
    assert up["bytes"] == 10 * MSS and up["bytes_sent"] == 12 * MSS
    assert up["handshake_rtt_ms"] == pytest.approx(100.5, abs=0.01)
    # Karn: the RTT sample is the ACK of segment 2 (never re-sent), about one RTT
    assert up["rtt_samples"] >= 1 and up["rtt_median_ms"] == pytest.approx(99.0, abs=1.0)
    assert up["syn_mss"] == 1460 and up["syn_wscale"] == 7 and up["syn_sackok"] and up["syn_ts"]


def test_sender_side_inflight_is_sack_aware() -> None:
    a = analyze(frame(_upload_with_loss()), device=PHONE)
    data = a.segments.filter((pl.col("src") == PHONE) & (pl.col("len") > 0))
    # before any ACK: k segments sent -> k*MSS in flight
    assert data["inflight"].to_list()[:10] == [MSS * (k + 1) for k in range(10)]
    # the fast retransmission comes after 2 acked and 4..10 SACKed: only segment 3 is out
    assert data["inflight"][10] == MSS


def _upload_reordered_downstream(resend: bool) -> Conn:
    """Client-side capture of an upload whose segment 3 is held back in the network: the
    receiver SACKs 4.. first, then 3 arrives (and, with `resend`, the sender had already
    re-sent it; the receiver reports the copy with a D-SACK)."""
    c = Conn(Endpoint(PHONE, 53672, 9), Endpoint(SERVER, 443, 99))
    t = c.handshake(1.0, rtt=0.1)
    for k in range(6):
        c.send(t + 0.001 * k, c.client, 1 + k * MSS, MSS, rel_ack=1)
    c.send(t + 0.1, c.server, 1, rel_ack=1 + 2 * MSS)
    for k in range(4, 7):
        c.send(t + 0.1 + 0.001 * k, c.server, 1, rel_ack=1 + 2 * MSS, sack=[(1 + 3 * MSS, 1 + k * MSS)])
    if resend:
        c.send(t + 0.108, c.client, 1 + 2 * MSS, MSS, rel_ack=1)
    c.send(t + 0.115, c.server, 1, rel_ack=1 + 6 * MSS)  # segment 3 arrives 12 ms late
    if resend:
        c.send(t + 0.21, c.server, 1, rel_ack=1 + 6 * MSS, sack=[(1 + 2 * MSS, 1 + 3 * MSS)])
    return c


@pytest.mark.parametrize("resend", [False, True], ids=["no-resend", "spurious-resend"])
def test_sender_side_sees_downstream_reordering_through_sack(resend: bool) -> None:
    a = analyze(frame(_upload_reordered_downstream(resend)), device=PHONE)
    expected = ["new", "new", "reordered", "new", "new", "new"]
    assert _classes(a.segments, PHONE) == expected + (["spurious_retransmission"] if resend else [])
    up = a.flows.filter(pl.col("sender") == "client").row(0, named=True)
    assert up["n_reordered"] == 1 and up["n_retransmission"] == 0


def _chat_reply_held_behind_its_fin(data_sent_first: bool) -> Conn:
    """Phone-side capture of a long-lived chat connection (its handshake before the capture): the
    server's reply, then its last 24 bytes and its FIN in one clock tick, the FIN arriving first
    and the data 310 ms later. The server's side has three packets, so its IDs in arrival order
    (n+1, n+3, n+2 when the data was sent first) do not show a counter; in counter order they do."""
    c = Conn(Endpoint(PHONE, 36516, 3_000), Endpoint(SERVER, 443, 7_000))
    c.send(1.0, c.client, 1, 150, rel_ack=1)
    c.send(1.06, c.server, 1, 29, rel_ack=151)
    c.send(1.0601, c.client, 151, rel_ack=30)
    n, ts = c.server.ip_id, c.server.ts + 1
    data_id, fin_id = (n + 1, n + 2) if data_sent_first else (n + 2, n + 1)
    c.send(1.14, c.server, 54, flags=FIN, rel_ack=151, ip_id=fin_id, tsval=ts)
    c.send(1.1401, c.client, 151, rel_ack=30)
    c.send(1.45, c.server, 30, 24, rel_ack=151, ip_id=data_id, tsval=ts)
    c.send(1.4501, c.client, 151, flags=FIN, rel_ack=55)
    return c


@pytest.mark.parametrize("data_sent_first, expected", [(True, "reordered"), (False, "retransmission")],
                         ids=["held-on-the-way", "sent-after-the-fin"])
def test_a_short_side_orders_by_its_ip_id_counter(data_sent_first: bool, expected: str) -> None:
    """Seed 422: the held data, sent before the FIN in the same tick, is `reordered`; its IDs in
    counter order step by 1, which a packet held on the way does not change (one sent after the
    FIN, its copy, is a re-send)."""
    a = analyze(frame(_chat_reply_held_behind_its_fin(data_sent_first)), device=PHONE)
    assert _classes(a.segments, SERVER) == ["new", expected]


def _chat_replies_rejoined(second_lost: bool) -> Conn:
    """Phone-side capture of a chat: the server's two 330-byte replies, the second lost on the way
    when `second_lost` (its IP ID used up, never seen), then the server's timer re-send of both
    joined in one 660-byte segment, as Linux joins small segments when its timer re-sends them.
    The phone's IDs count by 1 over the chat's exchanges first, so the side shows its pattern."""
    c = Conn(Endpoint(PHONE, 36518, 3_000), Endpoint(SERVER, 443, 7_000))
    t = c.handshake(1.0, rtt=0.05)
    t = c.exchanges(t + 0.1, 4)
    c.send(t, c.client, 401, 37, rel_ack=117)
    c.send(t + 0.056, c.server, 117, 330, rel_ack=438)
    c.send(t + 0.0561, c.client, 438, rel_ack=447)
    if second_lost:
        c.server.lose()
    c.send(t + 0.6, c.server, 117, 660, rel_ack=438)
    c.send(t + 0.6001, c.client, 438, rel_ack=777, sack=[(117, 447)])
    return c


@pytest.mark.parametrize("second_lost, expected", [(True, "retransmission"), (False, "spurious_retransmission")],
                         ids=["id-gap-before-it", "no-id-gap"])
def test_a_resend_running_past_the_highest_byte_after_an_id_gap_delivered_lost_bytes(
    second_lost: bool, expected: str
) -> None:
    """Seed 475: the joined re-send's second half went out before in the hidden packet, lost, so
    the re-send delivered bytes the phone lacked (`hidden_original`). Without an ID gap nothing was
    hidden, and the class stays the one its first bytes give."""
    a = analyze(frame(_chat_replies_rejoined(second_lost)), device=PHONE)
    assert _classes(a.segments, SERVER)[-2:] == ["new", expected]


def _upload_through_an_outage(silence: float) -> Conn:
    """Server-side capture of an upload: 10 segments arrive, then an outage takes the phone's next
    80 packets (the window, its probes, its timer re-sends: their IDs used up, never seen), then
    after `silence` the phone's segment at the next byte expected arrives."""
    c = Conn(Endpoint(PHONE, 53690, 10), Endpoint(SERVER, 443, 20))
    t = c.handshake(1.0, rtt=0.05, near_client=False)
    for k in range(10):
        c.send(t + 0.001 * k, c.client, 1 + k * MSS, MSS, rel_ack=1)
        c.send(t + 0.001 * k + 0.0001, c.server, 1, rel_ack=1 + (k + 1) * MSS)
    c.client.lose(80)
    c.send(t + 0.01 + silence, c.client, 1 + 10 * MSS, MSS, rel_ack=1)
    c.send(t + 0.0101 + silence, c.server, 1, rel_ack=1 + 11 * MSS)
    return c


@pytest.mark.parametrize("silence, expected", [(1.6, "retransmission"), (0.15, "new")],
                         ids=["after-a-timeout", "sooner-than-a-timeout"])
def test_an_outage_longer_than_the_id_gap_limit_is_read_after_a_timeout(silence: float, expected: str) -> None:
    """Seeds 427 and 467: after the relay's 1.6 s blackout, 84 of the phone's IDs missing, more than
    MAX_IPID_GAP, before its timer's re-send at the next byte expected: a re-send of a lost
    original (`hidden_original`). Sooner than Linux's smallest RTO so many missing IDs are not
    read (a counter shared with other connections can jump so)."""
    a = analyze(frame(_upload_through_an_outage(silence)), device=PHONE)
    assert _classes(a.segments, PHONE) == ["new"] * 10 + [expected]


def _download_seen_at_receiver(timestamps: bool, ip_ids: bool) -> Conn:
    """Client-side capture of a download: segment 3 arrives just after 4 (reordered), segment 6
    never arrives and is re-sent a round trip later, segment 7 is duplicated by the network,
    segment 2 arrives a second time much later (a needless re-send)."""
    c = Conn(Endpoint(PHONE, 53698, 7), Endpoint(SERVER, 443, 4_294_960_000), timestamps=timestamps)
    t = c.handshake(2.0, rtt=0.1)
    srv = c.server
    sent = {}
    for k in range(1, 9):  # the server sends 8 segments in order (ip_id and TSval increase)
        sent[k] = (srv.ip_id + k if ip_ids else 0, srv.ts + k)
    srv.lose(8)

    def arrive(when: float, k: int, retx: bool = False, ack: int = 1) -> None:
        ip_id, ts = sent[k]
        if retx:
            srv.ip_id += 1
            srv.ts += 100
            ip_id, ts = (srv.ip_id if ip_ids else 0), srv.ts
        c.send(when, srv, 1 + (k - 1) * MSS, MSS, rel_ack=ack, ip_id=ip_id, tsval=ts)

    arrive(t + 0.05, 1)
    arrive(t + 0.051, 2)
    arrive(t + 0.052, 4)
    arrive(t + 0.0535, 3)  # 1.5 ms late: reordering
    arrive(t + 0.054, 5)
    arrive(t + 0.056, 7)
    arrive(t + 0.0561, 7)  # duplicated on the way: same IP ID and TSval
    arrive(t + 0.057, 8)
    c.send(t + 0.058, c.client, 1, rel_ack=1 + 5 * MSS, sack=[(1 + 6 * MSS, 1 + 8 * MSS)])
    arrive(t + 0.16, 6, retx=True)  # a round trip later: the retransmission of a lost segment
    c.send(t + 0.161, c.client, 1, rel_ack=1 + 8 * MSS)
    arrive(t + 0.4, 2, retx=True)  # bytes the receiver had: a spurious retransmission
    return c


@pytest.mark.parametrize(
    "timestamps, ip_ids",
    [(True, True), (False, True), (True, False), (False, False)],
    ids=["tsval+ipid", "ipid-only", "tsval-only", "timing-only"],
)
def test_receiver_side_reordering_loss_and_duplicates(timestamps: bool, ip_ids: bool) -> None:
    a = analyze(frame(_download_seen_at_receiver(timestamps, ip_ids)), device=PHONE)
    expected = ["new", "new", "new", "reordered", "new", "new", "network_duplicate", "new",
                "retransmission", "spurious_retransmission"]
    if not ip_ids and not timestamps:
        expected[6] = "spurious_retransmission"  # nothing tells a network copy from a re-send
    assert _classes(a.segments, SERVER) == expected
    down = a.flows.filter(pl.col("sender") == "server").row(0, named=True)
    assert down["vantage"] == "client" and down["direction"] == "down" and not down["sender_is_device"]
    assert down["n_reordered"] == 1 and down["n_retransmission"] == 1
    assert down["n_retransmission_inferred"] == 0  # the re-send filled a hole the capture saw
    counted = 8  # 6 new + 1 reordered + 1 retransmission (duplicates and spurious re-sends do not count)
    assert down["reorder_rate"] == pytest.approx(1 / counted)
    assert down["loss_rate"] == pytest.approx(1 / counted)


def _six_segments_down(c: Conn, t: float) -> None:
    """The server sends six full segments from t + 30 ms, 1 ms apart; the client ACKs every second."""
    for k in range(6):
        c.send(t + 0.03 + 0.001 * k, c.server, 1 + k * MSS, MSS, rel_ack=1)
        if k % 2:
            c.send(t + 0.0305 + 0.001 * k, c.client, 1, rel_ack=1 + (k + 1) * MSS)


def _lost_tail_at_receiver(next_gap: float | None = None, client_sends: bool = False) -> Conn:
    """Client-side capture of a short download whose last segment is lost upstream: the server
    numbers its packets 1, 2, 3 (IP ID), the lost one's ID never shows, and its re-send comes
    0.3 s later (RTO) starting exactly at the next byte expected. `next_gap`: new data follows the
    re-send after that many seconds; `client_sends`: the client sends data meanwhile (so the
    missing ID may have been the server's ACK of it)."""
    c = Conn(Endpoint(PHONE, 53698, 7), Endpoint(SERVER, 443, 4_294_960_000))
    t = c.handshake(2.0, rtt=0.05)
    srv = c.server
    _six_segments_down(c, t)
    srv.lose()  # segment 7 (bytes 6 MSS .. 7 MSS) leaves the server and is lost
    if client_sends:
        c.send(t + 0.1, c.client, 1, 100, rel_ack=1 + 6 * MSS)
    c.send(t + 0.336, srv, 1 + 6 * MSS, MSS, rel_ack=101 if client_sends else 1)  # the RTO re-send
    if next_gap is not None:
        c.send(t + 0.336 + next_gap, srv, 1 + 7 * MSS, MSS, rel_ack=101 if client_sends else 1)
    return c


def test_receiver_side_lost_tail_is_a_retransmission() -> None:
    """No copy of the re-sent bytes ever shows at the receiver's side: only the gap in the
    sender's IP IDs and the quiet before the re-send tell it was not new (docs/classification.md)."""
    a = analyze(frame(_lost_tail_at_receiver()), device=PHONE)
    assert _classes(a.segments, SERVER) == ["new"] * 6 + ["retransmission"]
    down = a.flows.filter(pl.col("sender") == "server").row(0, named=True)
    assert down["vantage"] == "client" and down["n_retransmission"] == 1
    assert down["n_retransmission_inferred"] == 1  # known only from the ID gap
    assert down["loss_rate"] == pytest.approx(1 / 7)


@pytest.mark.parametrize(
    "next_gap, client_sends",
    [(0.001, False), (None, True)],
    ids=["new-data-right-behind", "client-sent-data-meanwhile"],
)
def test_receiver_side_id_gap_without_a_lost_tail_is_new(next_gap: float | None, client_sends: bool) -> None:
    """The same ID gap is no loss when new data follows at once (the sender was not waiting on a
    timer) or when the missing packet may have been the server's ACK of the client's data."""
    a = analyze(frame(_lost_tail_at_receiver(next_gap, client_sends)), device=PHONE)
    classes = _classes(a.segments, SERVER)
    assert classes == ["new"] * len(classes)


@pytest.mark.parametrize("late", [True, False], ids=["missing-id-shows-up-late", "missing-id-never-shows"])
def test_lost_tail_undone_when_the_missing_id_shows_up(late: bool) -> None:
    """Client-side capture of a download: after six segments the server sends a re-send of
    segment 6 (its next ID) and, 0.1 s later, segment 7. The re-send is held on the way and
    arrives after segment 7, which looked like the timer re-send of a lost original (one ID
    missing, the quiet before it). When the missing ID shows up on other bytes, it was that
    held packet, and segment 7 is `new` (seed 71). If it never shows, segment 7 stays a re-send."""
    c = Conn(Endpoint(PHONE, 53900, 101), Endpoint(SERVER, 443, 2_400_000))
    t = c.handshake(23.0, rtt=0.05)
    srv = c.server
    _six_segments_down(c, t)
    srv.lose()
    held = (srv.ip_id, srv.ts)
    c.send(t + 0.136, srv, 1 + 6 * MSS, MSS, rel_ack=1)  # segment 7
    if late:
        c.send(t + 0.1362, srv, 1 + 5 * MSS, MSS, rel_ack=1, ip_id=held[0], tsval=held[1])
    a = analyze(frame(c), device=PHONE)
    expected = ["new"] * 7 + ["spurious_retransmission"] if late else ["new"] * 6 + ["retransmission"]
    assert _classes(a.segments, SERVER) == expected


@pytest.mark.parametrize(
    "missing, wait, expected",
    [(1, 0.3, "retransmission"), (1, 0.04, "retransmission"), (35, 0.3, "retransmission"), (35, 0.04, "new")],
    ids=["one-rto", "one-probe", "blackout-rto", "shared-counter"],
)
def test_lost_tail_ids_on_a_lossy_path(missing: int, wait: float, expected: str) -> None:
    """The server's IP IDs skip three times on the way (packets lost upstream: 3 of its 19 steps
    are not +1), so the counter is still its own. A tail re-sent 40 ms after the previous packet
    is a loss probe, sent for one lost segment: 35 IDs missing before it are other traffic on a
    counter the server shares (a segment held by Nagle), not losses; after an RTO they may be."""
    c = Conn(Endpoint(PHONE, 53730, 19), Endpoint(SERVER, 443, 4_000_000))
    t = c.handshake(5.0, rtt=0.02)
    srv = c.server
    for k in range(16):
        if k in (3, 8, 12):
            srv.ip_id += 1  # a packet of the server the capture point never saw
        c.send(t + 0.01 + 0.001 * k, srv, 1 + k * MSS, MSS, rel_ack=1)
        if k % 2:
            c.send(t + 0.0105 + 0.001 * k, c.client, 1, rel_ack=1 + (k + 1) * MSS)
    srv.ip_id += missing
    c.send(t + 0.025 + wait, srv, 1 + 16 * MSS, 500, rel_ack=1)
    a = analyze(frame(c), device=PHONE)
    assert _classes(a.segments, SERVER) == ["new"] * 16 + [expected]


@pytest.mark.parametrize("hole_open, expected", [(False, "retransmission"), (True, "new")],
                         ids=["no-hole-below", "a-hole-below"])
def test_lost_tail_ids_when_a_hole_is_open_below(hole_open: bool, expected: str) -> None:
    """Client-side capture of a download: one server ID goes missing, and 90 ms later (a timer's
    wait) comes a segment at the next byte expected. With no hole open it is the lost tail's
    re-send. With segment 3 missing (`hole_open`), the hidden packet may have been a re-send of
    segment 3, lost again, and the segment new data (seed 145); segment 3's next re-send follows."""
    c = Conn(Endpoint(PHONE, 53940, 97), Endpoint(SERVER, 443, 2_700_000))
    t = c.handshake(34.0, rtt=0.05)
    srv = c.server
    for k in range(8):
        if hole_open and k == 2:
            srv.lose()
            continue
        c.send(t + 0.03 + 0.001 * k, srv, 1 + k * MSS, MSS, rel_ack=1)
        sack = [(1 + 3 * MSS, 1 + (k + 1) * MSS)] if hole_open and k > 2 else None
        c.send(t + 0.0305 + 0.001 * k, c.client, 1, rel_ack=1 + (2 if hole_open else k + 1) * MSS, sack=sack)
    srv.lose()  # hidden: segment 9's original, or segment 3's re-send
    c.send(t + 0.127, srv, 1 + 8 * MSS, MSS, rel_ack=1)
    if hole_open:
        c.send(t + 0.128, srv, 1 + 2 * MSS, MSS, rel_ack=1)
    a = analyze(frame(c), device=PHONE)
    classes = _classes(a.segments, SERVER)
    assert classes[7 if hole_open else 8] == expected


@pytest.mark.parametrize(
    "story, expected",
    [
        ("probe-of-the-last-segment", ["new"] * 6 + ["retransmission", "retransmission"]),
        ("last-segment-sent-late", ["new"] * 6 + ["new", "retransmission"]),
        ("new-data-right-behind", ["new"] * 6 + ["new", "new", "retransmission"]),
    ],
)
def test_loss_probe_of_the_last_segment_above_a_lost_one(story: str, expected: list[str]) -> None:
    """Client-side capture of a download: after six segments the server's last two, a full one
    and a 500-byte tail, are lost upstream. `probe-of-the-last-segment`: 0.1 s later (two round
    trips, a tail-loss probe) the tail is re-sent; it starts above the next byte expected, and
    the server's IDs skip two, one more than the hole below it holds, so a hidden packet carried
    the tail's bytes (seed 112). `last-segment-sent-late`: only the full segment was lost (one ID
    missing, the hole's), and the tail is new data the application wrote later. `new-data-right-
    behind`: two IDs missing, but more new data follows the tail at once: the server was not
    waiting on a timer. The full segment's re-send, after the client's SACK, is a re-send in all."""
    c = Conn(Endpoint(PHONE, 53910, 41), Endpoint(SERVER, 443, 7_700_000))
    t = c.handshake(31.0, rtt=0.05)
    srv = c.server
    _six_segments_down(c, t)
    srv.lose()  # the 7th segment (bytes 6 MSS .. 7 MSS) is lost
    if story != "last-segment-sent-late":
        srv.lose()  # and the tail with it
    c.send(t + 0.136, srv, 1 + 7 * MSS, 500, rel_ack=1)  # the tail
    c.send(t + 0.137, c.client, 1, rel_ack=1 + 6 * MSS, sack=[(1 + 7 * MSS, 1 + 7 * MSS + 500)])
    if story == "new-data-right-behind":
        c.send(t + 0.1365, srv, 1 + 7 * MSS + 500, MSS, rel_ack=1)
    c.send(t + 0.188, srv, 1 + 6 * MSS, MSS, rel_ack=1)  # the SACKed hole re-sent
    a = analyze(frame(c), device=PHONE)
    assert _classes(a.segments, SERVER) == expected


@pytest.mark.parametrize(
    "other, expected",
    [("per-socket", "retransmission"), ("global", "new"), ("none", "new")],
    ids=["host-counts-per-connection", "host-has-one-counter", "no-other-connection"],
)
def test_short_chat_side_takes_its_hosts_ip_id_pattern(other: str, expected: str) -> None:
    """Server-side capture (`chat_beside_an_upload`): a chat side too short to show its IP ID
    pattern, its first message lost upstream and re-sent by the timer. `per-socket`: the
    upload's IDs start elsewhere (Linux: a random start per socket) and count up by 1, so the
    chat's gap is its own lost packet (seeds 37 and 51). `global`: the chat's IDs continue the
    upload's (one counter for the host: a gap may be anything). `none`: no upload."""
    up, chat = chat_beside_an_upload(PHONE, SERVER, one_counter=other == "global")
    a = analyze(frame(chat) if other == "none" else frame(up, chat), device=PHONE)
    assert _classes(a.segments.filter(pl.col("sport") == 53891), PHONE) == [expected]


def _resend_after_pure_ack(overtaken: bool) -> Conn:
    """Client-side capture of a download whose 4th segment never shows. The server's next packet is
    a pure ACK (of the client's request) whose sequence number, the server's SND.NXT, is past the
    missing bytes. `overtaken=False`: the segment was lost and is re-sent 0.3 s later; True: it was
    only delayed, and arrives 5 ms after the ACK that was sent after it (lower IP ID and TSval)."""
    c = Conn(Endpoint(PHONE, 53700, 11), Endpoint(SERVER, 443, 900_000))
    t = c.handshake(3.0, rtt=0.05)
    srv = c.server
    for k in range(3):
        c.send(t + 0.03 + 0.001 * k, srv, 1 + k * MSS, MSS, rel_ack=1)
    srv.lose()  # the 4th segment leaves the server: ID and TSval taken
    lost_id, lost_ts = srv.ip_id, srv.ts
    c.send(t + 0.05, c.client, 1, 100, rel_ack=1 + 3 * MSS)
    c.send(t + 0.1, srv, 1 + 4 * MSS, rel_ack=101)  # pure ACK: seq is SND.NXT, past the 4th segment
    if overtaken:
        c.send(t + 0.105, srv, 1 + 3 * MSS, MSS, rel_ack=1, ip_id=lost_id, tsval=lost_ts)
    else:
        c.send(t + 0.4, srv, 1 + 3 * MSS, MSS, rel_ack=101)  # the RTO re-send
    return c


@pytest.mark.parametrize("overtaken, expected", [(False, "retransmission"), (True, "new")],
                         ids=["lost-and-re-sent", "overtaken-by-the-ack"])
def test_pure_ack_sequence_number_shows_bytes_sent(overtaken: bool, expected: str) -> None:
    """A pure ACK above the bytes seen opens a hole (docs/classification.md): the segment that fills
    it is a re-send when sent after that ACK; one sent before is `new`, not `reordered` (no byte
    stream gap for the receiving TCP). The IP IDs have no gap right before the re-send, so the
    lost-tail rule cannot find it."""
    a = analyze(frame(_resend_after_pure_ack(overtaken)), device=PHONE)
    assert _classes(a.segments, SERVER) == ["new"] * 3 + [expected]


def test_kernel_resets_with_ip_id_zero_keep_the_lost_tail_rule() -> None:
    """Resets Linux sends for a socket that is gone carry IP ID 0, not the connection's counter:
    two of them at the end must not make the side's IDs look unusable for the lost-tail rule."""
    c = _lost_tail_at_receiver()
    t = c.rows[-1]["ts_ns"] / 1e9
    for k in range(2):
        c.send(t + 1.0 + k, c.server, 1 + 7 * MSS, flags=RST, ip_id=0)
    a = analyze(frame(c), device=PHONE)
    assert _classes(a.segments, SERVER) == ["new"] * 6 + ["retransmission"]


def _timer_resends_at_server(tlp_arrives: bool, client_data_unseen: bool) -> Conn:
    """Server-side capture of a chat reply lost on its way to the phone and re-sent three times
    (tail-loss probe, RTO, RTO). The phone answers every copy that reaches it, but those answers
    are lost upstream (its IP IDs count them); one D-SACK, for the last copy, arrives.
    `tlp_arrives`: the probe delivered the reply (so the first RTO re-send was needless) or was lost
    too (the first RTO re-send delivered it); `client_data_unseen`: the phone also sent a new
    message that was lost (its D-SACK's sequence number is past it)."""
    c = Conn(Endpoint(PHONE, 53710, 13), Endpoint(SERVER, 443, 700_000))
    t = c.handshake(4.0, rtt=0.05, near_client=False)
    cli, srv = c.client, c.server
    c.send(t + 0.1, cli, 1, 100, rel_ack=1)  # the phone's message
    c.send(t + 0.1005, srv, 1, 29, rel_ack=101)  # the reply (lost)
    c.send(t + 0.35, srv, 1, 29, rel_ack=101)  # tail-loss probe
    c.send(t + 0.38, cli, 1, 100, rel_ack=1)  # the phone re-sends its message: it heard nothing
    c.send(t + 0.3805, srv, 30, rel_ack=101, sack=[(1, 101)])  # the server's D-SACK of it
    c.send(t + 0.65, srv, 1, 29, rel_ack=101)  # RTO
    c.send(t + 1.2, srv, 1, 29, rel_ack=101)  # RTO again
    cli.ip_id += 2 if tlp_arrives else 1  # the phone's answers to the copies that reached it: lost
    seq = 101
    if client_data_unseen:
        cli.ip_id += 1  # its next message (100 bytes, one packet), lost too
        seq = 201
    c.send(t + 1.25, cli, seq, rel_ack=30, sack=[(1, 30)])  # D-SACK for the last copy
    return c


@pytest.mark.parametrize("client_data_unseen", [False, True], ids=["acks-only", "and-a-lost-message"])
@pytest.mark.parametrize(
    "tlp_arrives, expected",
    [(True, ["new", "retransmission", "spurious_retransmission", "spurious_retransmission"]),
     (False, ["new", "retransmission", "retransmission", "spurious_retransmission"])],
    ids=["probe-delivered", "probe-lost"],
)
def test_receiver_ip_ids_count_the_copies_that_arrived(
    tlp_arrives: bool, client_data_unseen: bool, expected: list[str]
) -> None:
    """One D-SACK answers the last of three re-sends; the phone's missing IP IDs say how many
    copies before it drew an answer. Two answers for two copies: both arrived, so the probe
    delivered the bytes and the first RTO re-send was needless. One answer for two copies: which
    one arrived is unknown, and the re-send stays a retransmission (docs/classification.md)."""
    a = analyze(frame(_timer_resends_at_server(tlp_arrives, client_data_unseen)), device=PHONE)
    assert set(a.flows["vantage"]) == {"server"}
    assert _classes(a.segments, SERVER) == expected


@pytest.mark.parametrize(
    "case, third",
    [("two-answers", "spurious_retransmission"), ("one-answer", "retransmission"),
     ("an-answer-for-the-burst", "retransmission"), ("server-data-unacknowledged", "retransmission")],
)
def test_answers_show_a_copy_needless_whichever_was_lost(case: str, third: str) -> None:
    """Phone-side capture of an upload (seed 322): a burst of new data is lost from its first
    segment on, and the timer re-sends that segment four times, backing off; the server's answers
    to the copies that reached it are lost, until its D-SACK of the last copy. Two server IDs
    missing for the first four copies: two were lost and two arrived, so the fourth (the third
    re-send) had an earlier copy arrive whichever two were lost, and was needless. One missing:
    three were lost, and which is unknown. When a segment of the burst arrived (the D-SACK also
    SACKs it), an answer may be its; when the server's own message was unacknowledged (the burst
    is the first to acknowledge it), its timer re-send may be one: nothing is decided then."""
    c = Conn(Endpoint(PHONE, 53970, 29), Endpoint(SERVER, 443, 3_300_000))
    cli, srv = c.client, c.server
    t = c.handshake(1.0, rtt=0.05)
    for k in range(10):  # acknowledged a round trip later, every second segment
        c.send(t + 0.01 + 0.001 * k, cli, 1 + k * MSS, MSS, rel_ack=1)
        if k % 2:
            c.send(t + 0.061 + 0.001 * k, srv, 1, rel_ack=1 + (k + 1) * MSS)
    ack = 1
    if case == "server-data-unacknowledged":
        c.send(t + 0.19, srv, 1, 29, rel_ack=1 + 10 * MSS)  # a message the burst acknowledges first
        ack = 30
    hole = 1 + 10 * MSS
    for k in range(6):  # the burst: all lost after the capture point, but its third segment
        c.send(t + 0.2 + 0.001 * k, cli, hole + k * MSS, MSS, rel_ack=ack)
    for at in (0.45, 0.95, 1.95, 3.95):  # the timer re-sends of the burst's first segment
        c.send(t + at, cli, hole, MSS, rel_ack=ack)
    srv.lose({"two-answers": 2, "one-answer": 1, "an-answer-for-the-burst": 2, "server-data-unacknowledged": 2}[case])
    sack = [(hole, hole + MSS)] + ([(hole + 2 * MSS, hole + 3 * MSS)] if case == "an-answer-for-the-burst" else [])
    seq = 30 if case == "server-data-unacknowledged" else 1
    c.send(t + 4.0, srv, seq, rel_ack=hole + MSS, sack=sack)
    a = analyze(frame(c), device=PHONE)
    assert set(a.flows["vantage"]) == {"client"}
    resends = _classes(a.segments, PHONE)[16:]
    assert resends == ["retransmission", "retransmission", third, "spurious_retransmission"]
    third_basis = "answer_count" if third == "spurious_retransmission" else "resent"
    assert _bases(a.segments, PHONE)[16:] == ["resent", "resent", third_basis, "dsack"]


@pytest.mark.parametrize(
    "echoed, expected",
    [(1, ["new", "spurious_retransmission", "spurious_retransmission"]),
     (2, ["new", "retransmission", "retransmission"])],
    ids=["second-re-send-not-heard-yet", "second-re-send-heard"],
)
def test_answers_counted_against_the_copies_the_echo_allows(echoed: int, expected: list[str]) -> None:
    """Server-side capture of a chat (seed 560): the server's reply, then two timer re-sends; two
    of the phone's IDs missing, then its next message, 60 ms after the second re-send (a round
    trip is 50 ms). Had all three copies drawn answers, two answers leave one copy lost and
    which unknown. But the message echoes the first re-send's TSval: the second had not reached
    the phone, since a copy at its left edge sets TS.Recent on arrival. Two copies, two answers:
    both arrived, and the first re-send was needless. When it echoes the second, three copies
    drew two answers: one was lost, and as the phone's message was not yet acknowledged, its own
    timer re-send may have taken an ID too, so nothing is decided."""
    c = Conn(Endpoint(PHONE, 54060 + echoed, 5_000), Endpoint(SERVER, 443, 9_600))
    cli, srv = c.client, c.server
    t = c.exchanges(c.handshake(1.0, rtt=0.05, near_client=False), 4)
    c.send(t, cli, 401, 100, rel_ack=117)
    c.send(t + 0.0005, srv, 117, 29, rel_ack=501)  # the reply
    cli.lose()  # the phone's ACK of it
    copies = [c.send(t + 0.27, srv, 117, 29, rel_ack=501)]
    cli.lose()  # its D-SACK of the first re-send
    copies.append(c.send(t + 0.54, srv, 117, 29, rel_ack=501))
    c.send(t + 0.6, cli, 501, 100, rel_ack=146, tsecr=copies[echoed - 1]["opt_tsval"])
    a = analyze(frame(c), device=PHONE)
    assert _classes(a.segments, SERVER)[-3:] == expected
    assert _classes(a.segments, PHONE)[-1] == "new"


@pytest.mark.parametrize(
    "answers, expected",
    [(2, ["new", "spurious_retransmission", "spurious_retransmission"]),
     (1, ["new", "retransmission", "spurious_retransmission"])],
    ids=["an-answer-for-each", "one-answer-for-two"],
)
def test_copies_counted_before_the_first_rtt_sample(answers: int, expected: list[str]) -> None:
    """Server-side capture of a chat whose handshake came before it (no RTT sample of the
    server's data yet): the phone's message, the server's reply, its probe 0.29 s later and its
    RTO re-send 0.29 s after that; the phone's ACK D-SACKs the last copy, echoing its TSval. Every copy came after the
    phone's message, so the round trip only widens the count; the span from the echoed copy to
    the ACK holds one and stands in for it (seed 150). Two missing phone IDs for two copies: both
    arrived and the probe was needless; one: which arrived is unknown."""
    c = Conn(Endpoint(PHONE, 53950, 103), Endpoint(SERVER, 443, 2_900_000))
    cli, srv = c.client, c.server
    for k in range(3):  # earlier phone messages, acknowledged at once: the capture is the server's
        c.send(38.0 + 0.5 * k, cli, 1 + 10 * k, 10, rel_ack=1)
        c.send(38.0003 + 0.5 * k, srv, 1, rel_ack=11 + 10 * k)
    c.send(40.0, cli, 31, 80, rel_ack=1)
    c.send(40.0004, srv, 1, 29, rel_ack=111)  # the reply: arrives, its answer lost
    c.send(40.288, srv, 1, 29, rel_ack=111)  # the probe
    last = c.send(40.576, srv, 1, 29, rel_ack=111)  # the RTO re-send
    cli.ip_id += answers
    c.send(40.73, cli, 111, rel_ack=30, sack=[(1, 30)], tsecr=last["opt_tsval"])
    for k in range(3):  # later server messages, acknowledged a round trip later (RTT samples)
        c.send(41.0 + 0.5 * k, srv, 30 + 20 * k, 20, rel_ack=111)
        c.send(41.05 + 0.5 * k, cli, 111, rel_ack=50 + 20 * k)
    a = analyze(frame(c), device=PHONE)
    assert set(a.flows["vantage"]) == {"server"}
    assert _classes(a.segments, SERVER)[:3] == expected


@pytest.mark.parametrize("dsack, expected", [(True, "spurious_retransmission"), (False, "new")],
                         ids=["answered-with-a-dsack", "answered-with-an-ack"])
def test_receiver_dsack_shows_a_copy_from_before_the_capture(dsack: bool, expected: str) -> None:
    """Phone-side capture of a chat whose handshake came before the capture started. The first
    packet is the server's re-send of a message the phone already had (its ACK was lost): the phone
    answers at once with a D-SACK for those bytes, so the copy was needless. A plain ACK leaves it new."""
    c = Conn(Endpoint(PHONE, 53720, 17), Endpoint(SERVER, 443, 300_000))
    c.send(10.0, c.server, 1, 255, rel_ack=1)
    c.send(10.00004, c.client, 1, rel_ack=256, sack=[(1, 256)] if dsack else None)
    c.send(10.5, c.client, 1, 90, rel_ack=256)
    c.send(10.55, c.server, 256, 29, rel_ack=91)
    c.send(10.5501, c.client, 91, rel_ack=285)
    a = analyze(frame(c), device=PHONE)
    assert _classes(a.segments, SERVER) == [expected, "new"]


@pytest.mark.parametrize("acked, expected", [(False, "retransmission"), (True, "spurious_retransmission")],
                         ids=["ack-below-the-first-bytes-seen", "ack-covers-them"])
def test_resend_of_bytes_from_before_the_capture_the_receiver_lacked(acked: bool, expected: str) -> None:
    """Phone-side capture of a chat whose handshake came before the capture started (seed 309). The
    server's first packet is a pure ACK, then a message; the phone's ACK stays below it and SACKs
    it: the phone lacks the message before, sent before the capture started and lost on the way.
    The server's re-send of that one, 59 ms later, was needed, though the capture started seeing
    the server's bytes above it. When the phone's ACK covers both (the earlier message had come
    before the capture), a re-send of it is needless."""
    c = Conn(Endpoint(PHONE, 53730, 19), Endpoint(SERVER, 443, 310_000))
    cli, srv = c.client, c.server
    c.send(10.0, srv, 256, rel_ack=1)
    c.send(10.011, srv, 256, 255, rel_ack=1)
    c.send(10.0111, cli, 1, rel_ack=511 if acked else 1, sack=None if acked else [(256, 511)])
    c.send(10.07, srv, 1, 255, rel_ack=1)  # the earlier message again
    c.send(10.0701, cli, 1, rel_ack=511, sack=[(1, 256)] if acked else None)
    a = analyze(frame(c), device=PHONE)
    assert _classes(a.segments, SERVER) == ["new", expected]


@pytest.mark.parametrize("echo, expected", [("this-copy", "spurious_retransmission"), ("older", "new"), ("none", "new")],
                         ids=["dsack-echoes-it", "dsack-echoes-an-older-packet", "plain-ack"])
def test_sender_dsack_shows_a_copy_from_before_the_capture(echo: str, expected: str) -> None:
    """The same at the server's side (seed 156): the server's first packet re-sends a message the
    phone already had, and the phone's answer, a round trip later, D-SACKs it and echoes its TSval
    (Linux takes TS.Recent from a duplicate at the left edge): that copy was the duplicate, so it
    was needless. A D-SACK that echoes an older packet does not name this copy; a plain ACK shows
    nothing. Later exchanges (the phone's messages answered at once, the server's a round trip
    later) place the capture at the server."""
    c = Conn(Endpoint(PHONE, 53960, 107), Endpoint(SERVER, 443, 3_100_000))
    cli, srv = c.client, c.server
    first = c.send(10.0, srv, 1, 255, rel_ack=1)
    tsecr = {"this-copy": first["opt_tsval"], "older": first["opt_tsval"] - 300, "none": None}[echo]
    c.send(10.057, cli, 1, rel_ack=256, sack=None if echo == "none" else [(1, 256)], tsecr=tsecr)
    for k in range(3):
        c.send(10.5 + 0.5 * k, cli, 1 + 10 * k, 10, rel_ack=256)
        c.send(10.5003 + 0.5 * k, srv, 256, rel_ack=11 + 10 * k)
        c.send(10.6 + 0.5 * k, srv, 256 + 20 * k, 20, rel_ack=11 + 10 * k)
        c.send(10.657 + 0.5 * k, cli, 11 + 10 * k, rel_ack=276 + 20 * k)
    a = analyze(frame(c), device=PHONE)
    assert set(a.flows["vantage"]) == {"server"}
    assert _classes(a.segments, SERVER)[0] == expected


@pytest.mark.parametrize("original_arrives, expected", [(True, "spurious_retransmission"), (False, "retransmission")],
                         ids=["original-delivered", "original-lost"])
def test_receiver_data_after_lost_answers(original_arrives: bool, expected: str) -> None:
    """Server-side capture: the server's chat reply is re-sent once by its RTO, and the first packet
    of the phone that shows up is its next message, which acknowledges the reply and echoes the
    re-send's TSval (Linux takes TS.Recent from a duplicate at the window's left edge, so Eifel
    cannot tell). Two phone IDs missing before it: both copies were answered, both arrived, the
    re-send was needless. One missing: only one copy arrived, which one is unknown."""
    c = Conn(Endpoint(PHONE, 53740, 23), Endpoint(SERVER, 443, 600_000))
    t = c.handshake(6.0, rtt=0.05, near_client=False)
    cli, srv = c.client, c.server
    t = c.exchanges(t, 4)  # earlier messages, answered and acknowledged (the phone's IDs count by 1)
    c.send(t + 0.1, cli, 401, 100, rel_ack=117)
    c.send(t + 0.1005, srv, 117, 29, rel_ack=501)  # the reply
    c.send(t + 0.35, srv, 117, 29, rel_ack=501)  # its RTO re-send
    cli.ip_id += 2 if original_arrives else 1  # the phone's answers, lost upstream
    c.send(t + 0.6, cli, 501, 50, rel_ack=146)  # its next message
    a = analyze(frame(c), device=PHONE)
    assert _classes(a.segments, SERVER) == ["new"] * 5 + [expected]


def test_paws_discarded_resend_stays_a_resend() -> None:
    """Phone-side capture of a download with two holes. The server re-sends the higher hole's bytes
    first, then the lower's; the lower re-send overtakes the other on the way and fills the left
    edge, so the phone's TS.Recent passes the first re-send's TSval and PAWS discards it (RFC 7323
    5.3). It was still a re-send of lost bytes, not new; the next copy fills the hole."""
    c = Conn(Endpoint(PHONE, 53750, 29), Endpoint(SERVER, 443, 800_000))
    t = c.handshake(7.0, rtt=0.05)
    srv = c.server
    for k in range(16):  # enough packets that one TSval step back leaves timestamps usable for order
        if k in (2, 5):
            srv.lose()  # lost upstream
            continue
        c.send(t + 0.03 + 0.001 * k, srv, 1 + k * MSS, MSS, rel_ack=1)
        c.send(t + 0.0305 + 0.001 * k, c.client, 1, rel_ack=1 + min(k + 1, 2) * MSS)
    high_id, high_ts = srv.ip_id + 1, srv.ts + 1  # the higher hole's re-send, sent first
    srv.ip_id += 1
    srv.ts += 5
    c.send(t + 0.2, srv, 1 + 2 * MSS, MSS, rel_ack=1)  # the lower hole's re-send, arriving first
    c.send(t + 0.2005, c.client, 1, rel_ack=1 + 5 * MSS)  # echoes its TSval: TS.Recent moves on
    c.send(t + 0.201, srv, 1 + 5 * MSS, MSS, rel_ack=1, ip_id=high_id, tsval=high_ts)  # PAWS drops it
    c.send(t + 0.2015, c.client, 1, rel_ack=1 + 5 * MSS)
    c.send(t + 0.5, srv, 1 + 5 * MSS, MSS, rel_ack=1)  # the next copy
    a = analyze(frame(c), device=PHONE)
    assert _classes(a.segments, SERVER) == ["new"] * 14 + ["retransmission"] * 3


def test_new_data_a_round_trip_after_a_lost_tail_resend() -> None:
    """F-RTO (RFC 5682): after an RTO re-send the sender's answer to its ACK is new data, a round
    trip later at the receiver's side. That is no sign that the missing IDs were something else."""
    a = analyze(frame(_lost_tail_at_receiver(next_gap=0.045)), device=PHONE)
    assert _classes(a.segments, SERVER) == ["new"] * 6 + ["retransmission", "new"]


@pytest.mark.parametrize(
    "missing, wait, expected",
    [(3, 0.3, "retransmission"), (2, 0.3, "new"), (3, 0.7, "new"), (4, 0.7, "retransmission"), (4, 1.5, "new")],
    ids=["tail-segment-lost-too", "probe-only", "second-rto", "second-rto-tail-lost-too", "third-rto"],
)
def test_segments_after_a_lost_tail_resend(missing: int, wait: float, expected: str) -> None:
    """Client-side capture of a download whose last two segments and the tail-loss probe are lost
    upstream: three server IDs are missing before the RTO re-send of the first. One is its original,
    one the probe, the third the last segment, whose re-send a round trip later starts at the next
    byte expected (`retransmission`). Two missing IDs are the original and the probe: what follows
    is F-RTO's new data. After 0.7 s a second, backed-off RTO may have fired: the third missing
    ID may be the first RTO re-send, so the next segment is not counted as a re-send either; a
    fourth missing ID is then the last segment (seed 146). After 1.5 s a third RTO may have fired,
    and two of the four may be earlier RTO re-sends."""
    c = Conn(Endpoint(PHONE, 53790, 43), Endpoint(SERVER, 443, 1_200_000))
    t = c.handshake(11.0, rtt=0.05)
    srv = c.server
    _six_segments_down(c, t)
    srv.lose(missing)
    c.send(t + 0.036 + wait, srv, 1 + 6 * MSS, MSS, rel_ack=1)  # the RTO re-send of segment 7
    c.send(t + 0.037 + wait, c.client, 1, rel_ack=1 + 7 * MSS)
    c.send(t + 0.087 + wait, srv, 1 + 7 * MSS, 300, rel_ack=1, flags=ACK | PSH | FIN)  # segment 8, with the FIN
    a = analyze(frame(c), device=PHONE)
    assert _classes(a.segments, SERVER) == ["new"] * 6 + ["retransmission", expected]


@pytest.mark.parametrize(
    "reply_after, echo, phone_resends, at_once, lost, expected",
    [
        (0.31, "message", True, True, 1, "retransmission"),
        (0.06, "message", False, True, 1, "new"),
        (0.23, "message", True, True, 1, "new"),
        (0.28, "message", True, True, 1, "new"),
        (0.31, "older", True, True, 1, "new"),
        (0.31, "message", False, True, 1, "retransmission"),
        (0.31, "message", True, False, 1, "new"),
        (0.31, "message", False, False, 1, "new"),
        (0.41, "message", True, True, 2, "retransmission"),
        (0.39, "message", True, True, 2, "new"),
    ],
    ids=["re-sent-after-a-timeout", "a-round-trip-later", "sooner-than-a-round-trip-and-200-ms",
         "sooner-than-a-round-trip-and-an-rto", "echoes-an-older-packet", "server-answers-at-once",
         "slow-server-re-sent-after-a-timeout", "slow-server-phone-had-its-ack", "reply-and-its-probe-lost",
         "two-missing-too-soon-for-a-probe"],
)
def test_reply_lost_with_its_ack(
    reply_after: float, echo: str, phone_resends: bool, at_once: bool, lost: int, expected: str
) -> None:
    """Client-side capture of a chat. The phone sends a message; the server's reply, which also
    carries the ACK of it, is lost upstream (one server ID never shows), so the phone re-sends
    its message, and the server re-sends the reply a timeout later, still echoing the message's
    TSval. It acknowledges new bytes, so the lost-tail rule declines; it is the lost-reply
    rule's case. A reply a round trip after the message is an answer (the missing ID a lost
    pure ACK), and so is one echoing a packet from before the server's previous one, or one that
    came sooner than the round trip (50 ms) and Linux's smallest RTO after the message: the
    server's smoothed RTT (no less than 50 ms) plus 200 ms (the mirror case, seed 48: at the
    server's side, the phone's next message 298 ms after the server's reply, the phone's pure
    ACK of the reply lost). Without the
    phone's re-send, the missing packet may have been the server's ACK (which the phone got) and
    the segment a new message the server's application sent later: so it is taken when the
    server's earlier replies came after a pure ACK of the message ("slow server"). When they
    each came a round trip after the message, carrying its ACK, the server answers at once, and
    its reply's re-send may beat the phone's own timer (the phone's RTO, at least its SRTT plus
    200 ms, races the server's; until 2026-11-28 this case was `new`, and in five lab sets, 110,
    175, 186, 197 and 220, such re-sends were called `new` and were re-sends in truth; no lab
    set had a new reply in this case). A slow server's missing packet may be its pure ACK even
    when the phone re-sent (the ACK was lost, so the phone never had it): `new`. Until
    2026-12-07 this case was `retransmission`; its mirror at the server's side of the lab's
    chat (the phone, which ACKs alone, its ACK lost, the server's reply re-sent, then the phone's
    next message) was called so 8 times in 216 lab sets, and was `new` in truth each time. Two
    missing IDs are the reply and its loss probe only when the re-send comes an RTO after the
    probe, itself 2 SRTT (100 ms) after the reply at least: 400 ms after the message."""
    c = Conn(Endpoint(PHONE, 53820, 59), Endpoint(SERVER, 443, 1_500_000))
    t = 14.0  # the chat's handshake came before the capture: RTTs only from the exchanges below
    earlier = []
    for k in range(4):  # four exchanges, each answered a round trip later (or ACKed, then answered)
        earlier.append(c.send(t + k, c.client, 1 + 100 * k, 100, rel_ack=1 + 30 * k))
        if not at_once:
            c.send(t + k + 0.05, c.server, 1 + 30 * k, rel_ack=101 + 100 * k)  # a pure ACK first
        c.send(t + k + (0.05 if at_once else 0.15), c.server, 1 + 30 * k, 30, rel_ack=101 + 100 * k)
        c.send(t + k + (0.0501 if at_once else 0.1501), c.client, 101 + 100 * k, rel_ack=31 + 30 * k)
    message = c.send(t + 4.0, c.client, 401, 200, rel_ack=121)
    c.server.lose(lost)  # the reply (and its probe), lost upstream
    if phone_resends:
        c.send(t + 4.21, c.client, 401, 200, rel_ack=121)  # no ACK came: the phone re-sends
    tsecr = (message if echo == "message" else earlier[2])["opt_tsval"]
    c.send(t + 4.0 + reply_after, c.server, 121, 30, rel_ack=601, tsecr=tsecr)
    a = analyze(frame(c), device=PHONE)
    assert _classes(a.segments, SERVER) == ["new"] * 4 + [expected]
    assert _bases(a.segments, SERVER)[-1] == ("lost_reply" if expected == "retransmission" else "above_highest")


@pytest.mark.parametrize("lost, expected", [(True, "retransmission"), (False, "new")],
                         ids=["reply-lost-its-re-send-overtaken", "slow-reply-overtaken"])
def test_lost_reply_overtaken_by_the_servers_pure_ack(lost: bool, expected: str) -> None:
    """Client-side capture of a chat whose server answers at once. The phone's message gets no
    answer: the server's reply, which carries the ACK, is lost upstream (`lost`: one server ID
    never shows), the phone re-sends the message, and the server re-sends the reply a timeout
    later, then D-SACKs the message's copy with a pure ACK that overtakes the reply on the way.
    That ACK's sequence number opens a gap the reply fills, sent before it: overtaken only by a
    pure ACK, which alone is not reordering; but by the server's packets before that ACK, the
    reply is a lost reply's re-send (seed 790). Without the lost copy (no ID missing: a slow
    reply, overtaken the same way) it is `new`."""
    c = Conn(Endpoint(PHONE, 54160, 109), Endpoint(SERVER, 443, 3_400_000))
    cli, srv = c.client, c.server
    t = 45.0  # the chat's handshake came before the capture
    for k in range(4):  # four exchanges, each answered at once
        c.send(t + k, cli, 1 + 100 * k, 100, rel_ack=1 + 30 * k)
        c.send(t + k + 0.05, srv, 1 + 30 * k, 30, rel_ack=101 + 100 * k)
        c.send(t + k + 0.0501, cli, 101 + 100 * k, rel_ack=31 + 30 * k)
    message = c.send(t + 4.0, cli, 401, 200, rel_ack=121)
    if lost:
        srv.lose()  # the reply, lost upstream
    c.send(t + 4.28, cli, 401, 200, rel_ack=121)  # no ACK came: the phone re-sends
    reply = (srv.ip_id + 1, srv.ts + 1)
    srv.lose()  # the reply's re-send: held on the way, it arrives after the ACK below
    c.send(t + 4.33, srv, 151, rel_ack=601, sack=[(401, 601)])  # the D-SACK of the message's copy
    c.send(t + 4.34, srv, 121, 30, rel_ack=601, tsecr=message["opt_tsval"], ip_id=reply[0], tsval=reply[1])
    a = analyze(frame(c), device=PHONE)
    assert _classes(a.segments, SERVER) == ["new"] * 4 + [expected]
    assert _bases(a.segments, SERVER)[-1] == ("lost_reply" if lost else "behind_pure_ack")


@pytest.mark.parametrize("dsack_from, expected", [(2, "retransmission"), (1, "spurious_retransmission")],
                         ids=["part-duplicate", "all-duplicate"])
def test_dsack_of_part_of_a_resend(dsack_from: int, expected: str) -> None:
    """Phone-side capture of two messages, the first lost on the way (and the SACK for the second
    lost too). The RTO re-send carries both; the server's D-SACK reports only the second as
    duplicate (Linux D-SACKs the part below RCV.NXT): the re-send delivered the first, so it was
    needed. A D-SACK of all of it makes it needless."""
    c = Conn(Endpoint(PHONE, 53830, 61), Endpoint(SERVER, 443, 1_600_000))
    t = c.handshake(15.0, rtt=0.05)
    c.send(t + 0.1, c.client, 1, 300, rel_ack=1)
    c.send(t + 0.151, c.server, 1, rel_ack=301)  # an RTT sample for the phone
    c.send(t + 1.0, c.client, 301, 300, rel_ack=1)  # lost downstream
    c.send(t + 1.25, c.client, 601, 300, rel_ack=1)
    c.send(t + 1.55, c.client, 301, 600, rel_ack=1)  # the RTO re-send of both
    c.send(t + 1.6, c.server, 1, rel_ack=901, sack=[(1 + 300 * dsack_from, 901)])
    a = analyze(frame(c), device=PHONE)
    assert _classes(a.segments, PHONE) == ["new"] * 3 + [expected]
    assert _bases(a.segments, PHONE)[-1] == ("resent" if expected == "retransmission" else "dsack")


@pytest.mark.parametrize(
    "case, resends",
    [
        ("outage", ["spurious_retransmission", "spurious_retransmission"]),
        ("nothing-sent-after", ["retransmission", "spurious_retransmission"]),
        ("receiver-heard-from", ["retransmission", "spurious_retransmission"]),
        ("two-timer-copies-before", ["retransmission", "retransmission", "spurious_retransmission"]),
    ],
    ids=["outage", "nothing-sent-after", "receiver-heard-from", "two-timer-copies-before"],
)
def test_timer_copy_needless_after_an_outage(case: str, resends: list[str]) -> None:
    """Phone-side capture of an upload: segment 5 goes out, then (unless `nothing-sent-after`)
    segments 6 to 10, and the server falls silent; the phone's timer re-sends segment 5 twice, 0.3
    and 0.9 s later, and the server's next ACK acknowledges exactly segment 5, D-SACKs it and SACKs
    nothing above. Nothing after segment 5 got through, so an outage took all of it: one outage in
    both directions explains segment 5's own ACK lost and the first re-send lost too, the original
    delivered, and both re-sends needless (seeds 407, 641, 722, 724: the lab's 1 s blackout). The
    other story (segment 5 lost, its first re-send delivered and that ACK lost apart) stays when
    nothing was sent after segment 5, when the server was heard from between the re-sends (no
    outage), or when two timer copies came before the D-SACKed one: the outage would have had to
    outlast backed-off timeouts, and in the lab it had ended (seeds 431, 548, 623, 651)."""
    c = Conn(Endpoint(PHONE, 54140, 103), Endpoint(SERVER, 443, 3_200_000))
    t = c.handshake(31.0, rtt=0.05)
    cli, srv = c.client, c.server
    for k in range(4):
        c.send(t + 0.001 * k, cli, 1 + k * MSS, MSS, rel_ack=1)
        c.send(t + 0.05 + 0.001 * k, srv, 1, rel_ack=1 + (k + 1) * MSS)
    c.send(t + 0.1, cli, 1 + 4 * MSS, MSS, rel_ack=1)  # segment 5
    beyond = 0 if case == "nothing-sent-after" else 5
    for k in range(beyond):
        c.send(t + 0.101 + 0.001 * k, cli, 1 + (5 + k) * MSS, MSS, rel_ack=1)
    times = [0.4, 1.0, 2.2] if case == "two-timer-copies-before" else [0.4, 1.0]
    for n, at in enumerate(times):
        c.send(t + at, cli, 1 + 4 * MSS, MSS, rel_ack=1)  # the timer's copies of segment 5
        if n == 0 and case == "receiver-heard-from":
            c.send(t + at + 0.05, srv, 1, rel_ack=1 + 4 * MSS)
    c.send(t + times[-1] + 0.05, srv, 1, rel_ack=1 + 5 * MSS, sack=[(1 + 4 * MSS, 1 + 5 * MSS)])
    a = analyze(frame(c), device=PHONE)
    assert _classes(a.segments, PHONE) == ["new"] * (5 + beyond) + resends
    if case == "outage":
        assert _bases(a.segments, PHONE)[-2:] == ["outage", "dsack"]


@pytest.mark.parametrize("reset_ts", [True, False], ids=["resets-with-timestamps", "resets-without-timestamps"])
def test_eifel_on_a_chat_whose_resets_carry_no_timestamps(reset_ts: bool) -> None:
    """Phone-side capture of a chat connection opened before the capture: the phone's message, its
    timer re-send, and the server's reply (its first copy lost) echoing the message's first copy:
    Eifel shows the re-send needless. The phone then closes, and resets the server's late data
    twice; Linux's reset for a socket that is gone carries no timestamps (seed 235), and that
    must not make the side's timestamps look unusable."""
    c = Conn(Endpoint(PHONE, 53800, 5_000), Endpoint(SERVER, 443, 70_000))
    cli, srv = c.client, c.server
    first = c.send(1.0, cli, 1, 150, rel_ack=1)
    c.send(1.25, cli, 1, 150, rel_ack=1)
    c.send(1.33, srv, 1, 29, rel_ack=151, tsecr=first["opt_tsval"])
    c.send(1.3301, cli, 151, rel_ack=30)
    c.send(1.331, cli, 151, flags=FIN, rel_ack=30)
    c.send(1.39, srv, 30, 24, rel_ack=152)
    for k in range(2):
        reset = c.send(1.3901 + 0.001 * k, cli, 152, flags=RST)
        if not reset_ts:
            reset["opt_tsval"] = reset["opt_tsecr"] = None
    a = analyze(frame(c), device=PHONE)
    assert _classes(a.segments, PHONE) == ["new", "spurious_retransmission"]


def test_eifel_after_a_delayed_ack_of_two_resends() -> None:
    """Phone-side capture of an upload: segments 3 and 4 lost, re-sent back to back, and one
    (delayed) ACK covers both, echoing the first re-send's TSval (RFC 7323 3.4). That echo is older
    than the second re-send's TSval, yet the second re-send was needed."""
    c = Conn(Endpoint(PHONE, 53760, 31), Endpoint(SERVER, 443, 900_000))
    t = c.handshake(8.0, rtt=0.1)
    _ten_segments_up(c, t, lost=2)
    first = c.send(t + 0.12, c.client, 1 + 2 * MSS, MSS, rel_ack=1)
    c.send(t + 0.1201, c.client, 1 + 3 * MSS, MSS, rel_ack=1)
    c.send(t + 0.221, c.server, 1, rel_ack=1 + 10 * MSS, tsecr=first["opt_tsval"])
    a = analyze(frame(c), device=PHONE)
    assert _classes(a.segments, PHONE) == ["new"] * 10 + ["retransmission"] * 2


@pytest.mark.parametrize(
    "variant, expected",
    [("unique", "spurious_retransmission"), ("shared-above", "spurious_retransmission"),
     ("shared-at-left-edge", "retransmission")],
    ids=["echo-names-the-first-resend", "echo-shared-with-a-segment-above", "echo-shared-at-the-left-edge"],
)
def test_eifel_echo_of_an_earlier_resend_of_the_same_bytes(variant: str, expected: str) -> None:
    """Phone-side capture of an upload: segments 3 and 5 are lost. Segment 3 is re-sent; segment
    5's first re-send is held on the way, and its second goes out before the ACK comes. The ACK
    that covers them all echoes the first re-send of segment 5: only a copy at or below the
    receiver's last ACK sets TS.Recent (RFC 7323), so that copy delivered the bytes and the second
    was needless (seed 134). The echo is newer than segment 3's re-send, so plain Eifel cannot tell.

    Another packet with the same TSval (one clock tick) changes nothing when it lies above that
    last ACK (`shared-above`: new segment 11; seed 211). When segment 3's re-send shares it and no
    ACK shows the receiver acknowledged 4001 before the second copy came (`shared-at-left-edge`),
    segment 3's re-send may have set TS.Recent and a delayed ACK held it while the second copy
    delivered the bytes: the echo names no copy, still a re-send."""
    c = Conn(Endpoint(PHONE, 53930, 89), Endpoint(SERVER, 443, 2_500_000))
    t = c.handshake(33.0, rtt=0.05)
    cli, srv = c.client, c.server
    for k in range(10):
        c.send(t + 0.001 * k, cli, 1 + k * MSS, MSS, rel_ack=1)  # 3 and 5 lost after the capture point
    for k in (3, 5, 6, 7, 8, 9):
        sack = [(1 + 3 * MSS, 1 + 4 * MSS)] + ([(1 + 5 * MSS, 1 + (k + 1) * MSS)] if k > 4 else [])
        c.send(t + 0.05 + 0.001 * k, srv, 1, rel_ack=1 + 2 * MSS, sack=sack)
    three = c.send(t + 0.062, cli, 1 + 2 * MSS, MSS, rel_ack=1)  # segment 3 re-sent
    tick = three["opt_tsval"] if variant == "shared-at-left-edge" else None
    first = c.send(t + 0.063, cli, 1 + 4 * MSS, MSS, rel_ack=1, tsval=tick)  # segment 5 re-sent, held
    if variant == "shared-above":
        c.send(t + 0.0631, cli, 1 + 10 * MSS, MSS, rel_ack=1, tsval=first["opt_tsval"])
    if variant != "shared-at-left-edge":
        c.send(t + 0.113, srv, 1, rel_ack=1 + 4 * MSS, sack=[(1 + 5 * MSS, 1 + 10 * MSS)])
    c.send(t + 0.14, cli, 1 + 4 * MSS, MSS, rel_ack=1)  # segment 5 again
    top = 11 if variant == "shared-above" else 10
    c.send(t + 0.142, srv, 1, rel_ack=1 + top * MSS, tsecr=first["opt_tsval"])
    a = analyze(frame(c), device=PHONE)
    got = _classes(a.segments, PHONE)
    assert got[10:12] == ["retransmission", "retransmission"]
    assert got[-1] == expected


def _eight_with_the_fourth_lost(c: Conn, t: float, sender: Endpoint, receiver: Endpoint) -> None:
    """`sender` sends eight full segments 1 ms apart; the fourth is lost upstream (its IP ID and
    TSval are used up, it never shows); `receiver` ACKs each arrival, SACKing above the hole and
    echoing the third segment's TSval (RFC 7323: TS.Recent moves only at the left edge)."""
    for k in range(8):
        if k == 3:
            sender.lose()
            continue
        sent = c.send(t + 0.001 * k, sender, 1 + k * MSS, MSS, rel_ack=1)
        if k < 3:
            in_order = sent["opt_tsval"]
        c.send(t + 0.0002 + 0.001 * k, receiver, 1, rel_ack=1 + min(k + 1, 3) * MSS, tsecr=in_order,
               sack=[(1 + 4 * MSS, 1 + (k + 1) * MSS)] if k > 3 else None)


@pytest.mark.parametrize("top, expected", [("lost", "retransmission"), ("late", "new"), ("none", "new")],
                         ids=["top-segments-lost", "top-segments-late", "nothing-hidden"])
def test_segments_lost_above_the_bytes_seen(top: str, expected: str) -> None:
    """Server-side capture of an upload. Segment 4 is lost, and (`lost`) so are segments 9 and 10,
    sent right after segment 8, the highest seen: two of the phone's IP IDs go missing before its
    re-send of segment 4, the lowest hole. A sender re-sends holes from the lowest up, so the
    hidden packets were new data; their RTO re-sends later start exactly at the next byte expected
    and are re-sends, not new. `late`: the two were only delayed, and arrive after the re-send with
    their own (lower) IDs and TSvals: new. `none`: no gap, and the same segments are new."""
    c = Conn(Endpoint(PHONE, 53770, 37), Endpoint(SERVER, 8080, 1_000_000))
    t = c.handshake(9.0, rtt=0.05, near_client=False)
    cli, srv = c.client, c.server
    _eight_with_the_fourth_lost(c, t, cli, srv)
    hidden = [(cli.ip_id + 1, cli.ts + 1), (cli.ip_id + 2, cli.ts + 2)]
    if top != "none":
        cli.lose(2)  # segments 9 and 10
    c.send(t + 0.06, cli, 1 + 3 * MSS, MSS, rel_ack=1)  # re-send of the lowest hole
    c.send(t + 0.0602, srv, 1, rel_ack=1 + 8 * MSS)
    if top == "late":
        for j, (ip_id, ts) in enumerate(hidden):
            c.send(t + 0.061 + 0.0001 * j, cli, 1 + (8 + j) * MSS, MSS, rel_ack=1, ip_id=ip_id, tsval=ts)
    else:
        c.send(t + 0.3, cli, 1 + 8 * MSS, MSS, rel_ack=1)  # the RTO re-sends (or new data)
        c.send(t + 0.3001, cli, 1 + 9 * MSS, MSS, rel_ack=1)
    c.send(t + 0.3003, srv, 1, rel_ack=1 + 10 * MSS)
    a = analyze(frame(c), device=PHONE)
    assert _classes(a.segments, PHONE) == ["new"] * 7 + ["retransmission"] + [expected] * 2


@pytest.mark.parametrize("second_gap, sixteenth", [(True, "retransmission"), (False, "new")],
                         ids=["new-data-lost-between-the-re-sends", "nothing-between-the-re-sends"])
def test_lost_above_count_adds_a_gap_between_two_re_sends(second_gap: bool, sixteenth: str) -> None:
    """Server-side capture of an upload: segments 10 and 12 of 14 are lost. After segment 14, the
    highest seen, one phone ID goes missing (segment 15, lost), then comes the re-send of segment
    10; then (`second_gap`) one more ID goes missing (segment 16, lost: in SACK recovery a sender
    may send new data between its re-sends) before the re-send of segment 12, 1 ms later, too soon
    for the sender to have learnt that any copy was lost. No hole is open below segment 12, so
    that hidden packet was new data too, and segments 15 and 16 both come later as re-sends (seed
    679). Without the second gap, segment 16 is new."""
    c = Conn(Endpoint(PHONE, 54120, 99), Endpoint(SERVER, 8080, 3_000_000))
    t = c.handshake(43.0, rtt=0.05, near_client=False)
    cli, srv = c.client, c.server
    syn_ack = c.rows[1]["opt_tsval"]  # what the phone had heard a round trip before its segments
    for k in range(14):
        if k in (9, 11):
            cli.lose()
            continue
        sent = c.send(t + 0.001 * k, cli, 1 + k * MSS, MSS, rel_ack=1, tsecr=syn_ack)
        if k < 9:
            in_order = sent["opt_tsval"]
        runs = [(1 + 10 * MSS, 1 + min(k + 1, 11) * MSS)] if k >= 10 else []
        runs += [(1 + 12 * MSS, 1 + (k + 1) * MSS)] if k >= 12 else []
        c.send(t + 0.0002 + 0.001 * k, srv, 1, rel_ack=1 + min(k + 1, 9) * MSS, tsecr=in_order, sack=runs[::-1] or None)
    cli.lose()  # segment 15
    first = c.send(t + 0.06, cli, 1 + 9 * MSS, MSS, rel_ack=1)  # the re-send of segment 10
    c.send(t + 0.0602, srv, 1, rel_ack=1 + 11 * MSS, sack=[(1 + 12 * MSS, 1 + 14 * MSS)])
    if second_gap:
        cli.lose()  # segment 16
    c.send(t + 0.061, cli, 1 + 11 * MSS, MSS, rel_ack=1, tsecr=first["opt_tsecr"])  # the re-send of segment 12
    c.send(t + 0.0612, srv, 1, rel_ack=1 + 14 * MSS)
    c.send(t + 0.3, cli, 1 + 14 * MSS, MSS, rel_ack=1)  # segment 15 by the timer
    c.send(t + 0.3002, srv, 1, rel_ack=1 + 15 * MSS)
    c.send(t + 0.301, cli, 1 + 15 * MSS, MSS, rel_ack=1)  # segment 16, again or new
    c.send(t + 0.3012, srv, 1, rel_ack=1 + 16 * MSS)
    a = analyze(frame(c), device=PHONE)
    assert _classes(a.segments, PHONE) == ["new"] * 12 + ["retransmission"] * 3 + [sixteenth]


def test_late_resend_of_a_lower_hole_leaves_the_lost_above_count() -> None:
    """Server-side capture of an upload: segments 3 and 5 of ten are lost. After segment 10, the
    highest seen, two phone IDs go missing (segment 11, lost, and the re-send of segment 3, held
    on the way) before the re-send of segment 5. The count leaves one hidden packet to a re-send
    of the lower hole and counts one as new data lost above. When segment 3's re-send then shows
    up late, it is the packet left to the lower hole, not the one counted above: segment 11's
    re-send later is still a re-send (seed 815; a late packet of other bytes undoes the count,
    seed 554)."""
    c = Conn(Endpoint(PHONE, 54180, 111), Endpoint(SERVER, 8080, 3_500_000))
    t = c.handshake(46.0, rtt=0.05, near_client=False)
    cli, srv = c.client, c.server
    for k in range(10):
        if k in (2, 4):
            cli.lose()
            continue
        c.send(t + 0.001 * k, cli, 1 + k * MSS, MSS, rel_ack=1)
        runs = [(1 + 3 * MSS, 1 + min(k + 1, 4) * MSS)] if k >= 3 else []
        runs += [(1 + 5 * MSS, 1 + (k + 1) * MSS)] if k >= 5 else []
        c.send(t + 0.0002 + 0.001 * k, srv, 1, rel_ack=1 + 2 * MSS, sack=runs[::-1] or None)
    cli.lose()  # segment 11
    held = (cli.ip_id + 1, cli.ts + 1)
    cli.lose()  # the re-send of segment 3, held on the way
    c.send(t + 0.06, cli, 1 + 4 * MSS, MSS, rel_ack=1)  # the re-send of segment 5
    c.send(t + 0.0602, srv, 1, rel_ack=1 + 2 * MSS, sack=[(1 + 3 * MSS, 1 + 10 * MSS)])
    c.send(t + 0.07, cli, 1 + 2 * MSS, MSS, rel_ack=1, ip_id=held[0], tsval=held[1])  # segment 3's, late
    c.send(t + 0.0702, srv, 1, rel_ack=1 + 10 * MSS)
    c.send(t + 0.3, cli, 1 + 10 * MSS, MSS, rel_ack=1)  # segment 11 by the timer
    c.send(t + 0.3002, srv, 1, rel_ack=1 + 11 * MSS)
    for j in range(6):  # so that three in four of the phone's ID steps are +1 (`ipid_step1`)
        c.send(t + 0.5 + 0.1 * j, cli, 1 + 11 * MSS, rel_ack=1)
    a = analyze(frame(c), device=PHONE)
    assert _classes(a.segments, PHONE) == ["new"] * 8 + ["retransmission"] * 3


@pytest.mark.parametrize("silence, tenth", [(0.3, "retransmission"), (0.7, "new")],
                         ids=["one-timer-fire-segment-10-hidden", "timer-backed-off-its-copy-hidden"])
def test_lost_above_count_leaves_room_for_the_timers_backoff(silence: float, tenth: str) -> None:
    """Server-side capture of an upload: segment 4 of eight is lost, then three of the phone's
    IDs go missing after segment 8, the highest seen: its fast re-send of segment 4 and segment 9,
    both lost, then segment 10 (lost) or, after a longer silence, a timer copy of segment 4
    (lost). Segment 4's re-send comes `silence` after segment 8, then segments 9 and 10. A timer
    that fired twice (0.2 s, then 0.4 s more, RFC 6298 5.5) needs 0.6 s: after 0.3 s only one
    hidden packet can be a copy of segment 4, and segments 9 and 10 are both re-sends of hidden
    new data; after 0.7 s two can, and segment 10 is new (seeds 460 and 480: a 1 s blackout)."""
    c = Conn(Endpoint(PHONE, 54020, 93), Endpoint(SERVER, 8080, 2_600_000))
    t = c.handshake(42.0, rtt=0.05, near_client=False)
    cli, srv = c.client, c.server
    _eight_with_the_fourth_lost(c, t, cli, srv)
    cli.lose(3)  # segment 4's fast re-send, segment 9, and segment 10 or a timer copy of segment 4
    c.send(t + 0.007 + silence, cli, 1 + 3 * MSS, MSS, rel_ack=1)  # segment 4 by the timer
    c.send(t + 0.0072 + silence, srv, 1, rel_ack=1 + 8 * MSS)
    c.send(t + 0.06 + silence, cli, 1 + 8 * MSS, MSS, rel_ack=1)  # segment 9 again
    c.send(t + 0.0602 + silence, srv, 1, rel_ack=1 + 9 * MSS)
    c.send(t + 0.061 + silence, cli, 1 + 9 * MSS, MSS, rel_ack=1)  # segment 10, again or new
    c.send(t + 0.0612 + silence, srv, 1, rel_ack=1 + 10 * MSS)
    a = analyze(frame(c), device=PHONE)
    assert _classes(a.segments, PHONE) == ["new"] * 7 + ["retransmission", "retransmission", tenth]


@pytest.mark.parametrize(
    "resend_at, tick, expected",
    [(0.06, "same", "new"), (0.06, "next", "retransmission"), (0.3, "same", "retransmission")],
    ids=["fast-resend-same-tick", "fast-resend-next-tick", "timer-resend-same-tick"],
)
def test_next_segment_in_the_tick_of_the_fast_resend_after_a_gap(resend_at: float, tick: str, expected: str) -> None:
    """Server-side capture of an upload: segment 4 of eight is lost, one phone ID goes missing
    right after segment 8, the highest seen, then the phone re-sends segment 4 and sends segment
    9 at once. In the same clock tick as a fast re-send (60 ms after segment 8), segment 9 cannot
    re-send hidden new data: nothing sent after the hidden packet could have been SACKed yet and
    no timer fired, so the hidden packet was something else (seed 154: a needless re-send of a
    late segment) and segment 9 is new. A tick later the lost-above count stands (the capture
    cannot bound the phone's RTT in its ticks). After a timer re-send (300 ms, two IDs missing:
    one may be an earlier fast re-send of segment 4, lost) the phone re-sends all it has not seen
    SACKed in one go, the hidden segment 9 too."""
    c = Conn(Endpoint(PHONE, 53930, 85), Endpoint(SERVER, 8080, 2_400_000))
    t = c.handshake(33.0, rtt=0.05, near_client=False)
    cli, srv = c.client, c.server
    _eight_with_the_fourth_lost(c, t, cli, srv)
    hidden = 2 if resend_at >= 0.2 else 1
    cli.lose(hidden)
    resend = c.send(t + resend_at, cli, 1 + 3 * MSS, MSS, rel_ack=1)  # segment 4 re-sent
    c.send(t + resend_at + 0.0003, cli, 1 + 8 * MSS, MSS, rel_ack=1,
           tsval=resend["opt_tsval"] + (tick == "next"))  # segment 9
    c.send(t + resend_at + 0.0005, srv, 1, rel_ack=1 + 9 * MSS)
    a = analyze(frame(c), device=PHONE)
    assert _classes(a.segments, PHONE) == ["new"] * 7 + ["retransmission", expected]


@pytest.mark.parametrize(
    "gap_after, expected",
    [(0.01, "retransmission"), (0.08, "retransmission"), (0.25, "new")],
    ids=["sooner-than-a-round-trip", "a-round-trip-later", "a-timer-later"],
)
def test_new_segment_hidden_between_two_hole_resends(gap_after: float, expected: str) -> None:
    """Server-side capture of an upload (50 ms round trip): segments 4 and 6 of eight are lost.
    The phone re-sends segment 4, then sends segment 9, lost on the way (its ID never shows),
    then re-sends segment 6 `gap_after` later, and segment 9 again by its timer. Sooner than a
    round trip after the first re-send, the hidden packet cannot have been an earlier copy of
    segment 6 (the phone could not have learnt of its loss yet), so it was new data above the
    bytes seen, and segment 9's copy, which starts at the next byte expected, is a re-send
    (seeds 92 and 132). A round trip later it cannot have been either: a sender re-sends a lost
    copy again only once a SACK of a packet sent after it shows it lost, and segment 6's re-send
    is the first packet after the gap (until the fourteenth session this case counted nothing,
    by the round trip alone). After its timer (200 ms), the hidden packet may have been segment
    6's first copy: nothing is counted."""
    c = Conn(Endpoint(PHONE, 53920, 83), Endpoint(SERVER, 8080, 2_300_000))
    t = c.handshake(32.0, rtt=0.05, near_client=False)
    cli, srv = c.client, c.server
    echo = c.rows[1]["opt_tsval"]  # the phone's data echoes the SYN/ACK: no RTT sample of 1 ms
    for k in range(8):
        if k in (3, 5):
            cli.lose()
            continue
        c.send(t + 0.001 * k, cli, 1 + k * MSS, MSS, rel_ack=1, tsecr=echo)
        sack = [(1 + 4 * MSS, 1 + (k + 1) * MSS)] if k > 3 else None
        c.send(t + 0.0002 + 0.001 * k, srv, 1, rel_ack=1 + min(k + 1, 3) * MSS, sack=sack)
    c.send(t + 0.06, cli, 1 + 3 * MSS, MSS, rel_ack=1, tsecr=echo)  # segment 4 re-sent
    heard = c.send(t + 0.0602, srv, 1, rel_ack=1 + 5 * MSS, sack=[(1 + 6 * MSS, 1 + 8 * MSS)])["opt_tsval"]
    cli.lose()  # segment 9, lost
    # a round trip later the phone has heard the server's ACK of segment 4, and echoes it
    late = gap_after >= 0.05
    c.send(t + 0.06 + gap_after, cli, 1 + 5 * MSS, MSS, rel_ack=1, tsecr=heard if late else echo)  # segment 6
    c.send(t + 0.0602 + gap_after, srv, 1, rel_ack=1 + 8 * MSS)
    c.send(t + 0.4, cli, 1 + 8 * MSS, MSS, rel_ack=1, tsecr=echo)  # segment 9 by the timer
    c.send(t + 0.4002, srv, 1, rel_ack=1 + 9 * MSS)
    for j in range(4):  # so that three in four of the phone's ID steps are +1 (`ipid_step1`)
        c.send(t + 0.5 + 0.1 * j, cli, 1 + 9 * MSS, rel_ack=1, tsecr=echo)
    a = analyze(frame(c), device=PHONE)
    assert _classes(a.segments, PHONE) == ["new"] * 6 + ["retransmission"] * 2 + [expected]


@pytest.mark.parametrize("c_echo, expected", [("old", "retransmission"), ("ack-of-d", "new")],
                         ids=["c-resent-before-any-news", "c-resent-after-the-ack-of-d"])
def test_new_segment_hidden_among_resends_that_no_later_resend_fits(c_echo: str, expected: str) -> None:
    """Server-side capture of an upload (50 ms round trip): segments 3, 5, 7 and 9 of ten are lost
    (holes A, B, C, D). The phone re-sends A and B, one of its IDs goes missing, then it re-sends
    D, and C a round trip later, and last segment 11, which starts at the next byte expected. The
    hidden packet was new data (segment 11, lost) or an earlier copy of C. That copy's loss could
    be known only from a SACK of D, the first packet after it: C's re-send echoes (`old`) the
    server's ACK from before D arrived, so it was C's first copy and the hidden packet new data,
    whose re-send is segment 11 (seed 424). When C's re-send echoes the ACK of D, the hidden
    packet may have been C's lost copy, and segment 11 is new."""
    c = Conn(Endpoint(PHONE, 54010, 91), Endpoint(SERVER, 8080, 2_500_000))
    t = c.handshake(41.0, rtt=0.05, near_client=False)
    cli, srv = c.client, c.server
    lost = (2, 4, 6, 8)
    for k in range(10):
        if k in lost:
            cli.lose()
            continue
        c.send(t + 0.001 * k, cli, 1 + k * MSS, MSS, rel_ack=1)
        sack = [(1 + 3 * MSS, 1 + (k + 1) * MSS)] if k > 2 else None
        c.send(t + 0.0002 + 0.001 * k, srv, 1, rel_ack=1 + 2 * MSS, sack=sack)
    old = c.rows[-1]["opt_tsval"]  # the server's ACK after segment 10, the highest
    c.send(t + 0.06, cli, 1 + 2 * MSS, MSS, rel_ack=1, tsecr=old)  # A re-sent
    c.send(t + 0.0602, srv, 1, rel_ack=1 + 4 * MSS, sack=[(1 + 5 * MSS, 1 + 10 * MSS)])
    c.send(t + 0.061, cli, 1 + 4 * MSS, MSS, rel_ack=1, tsecr=old)  # B re-sent
    c.send(t + 0.0612, srv, 1, rel_ack=1 + 6 * MSS, sack=[(1 + 7 * MSS, 1 + 10 * MSS)])
    cli.lose()  # segment 11, or a copy of C
    c.send(t + 0.063, cli, 1 + 8 * MSS, MSS, rel_ack=1, tsecr=old)  # D re-sent
    ack_of_d = c.send(t + 0.0632, srv, 1, rel_ack=1 + 6 * MSS, sack=[(1 + 7 * MSS, 1 + 10 * MSS)])["opt_tsval"]
    c.send(t + 0.115, cli, 1 + 6 * MSS, MSS, rel_ack=1, tsecr=old if c_echo == "old" else ack_of_d)  # C re-sent
    c.send(t + 0.1152, srv, 1, rel_ack=1 + 10 * MSS)
    c.send(t + 0.116, cli, 1 + 10 * MSS, MSS, rel_ack=1, tsecr=ack_of_d)  # segment 11
    c.send(t + 0.1162, srv, 1, rel_ack=1 + 11 * MSS)
    for j in range(12):  # so that three in four of the phone's ID steps are +1 (`ipid_step1`)
        c.send(t + 0.5 + 0.1 * j, cli, 1 + 11 * MSS, rel_ack=1)
    a = analyze(frame(c), device=PHONE)
    assert _classes(a.segments, PHONE) == ["new"] * 6 + ["retransmission"] * 4 + [expected]
    assert _bases(a.segments, PHONE)[-1] == ("unaccounted_gap" if expected == "retransmission" else "above_highest")


@pytest.mark.parametrize("silence, expected", [(3.0, "new"), (0.65, "retransmission")],
                         ids=["four-timer-fires", "two-timer-fires"])
def test_timer_copies_hidden_in_a_long_silence_account_for_the_gap(silence: float, expected: str) -> None:
    """Server-side capture of an upload: segment 3 of ten is lost, and four of the phone's IDs go
    missing after segment 10, the highest, before its re-send of segment 3 comes `silence` later;
    then segment 11, at the next byte expected. After 3 s the timer has fired four times (0.2 s,
    doubling: RFC 6298 5.5), so the fast re-send and three timer copies of segment 3, all lost,
    fill the gap, and segment 11 is `new` (seed 791: five fires over 10 s, four copies hidden).
    After 0.65 s only two copies fit, the other two hidden packets were new data, and segment 11
    re-sends the first of them."""
    c = Conn(Endpoint(PHONE, 54150, 107), Endpoint(SERVER, 8080, 3_300_000))
    t = c.handshake(44.0, rtt=0.05, near_client=False)
    cli, srv = c.client, c.server
    for k in range(10):
        if k == 2:
            cli.lose()
            continue
        c.send(t + 0.001 * k, cli, 1 + k * MSS, MSS, rel_ack=1)
        sack = [(1 + 3 * MSS, 1 + (k + 1) * MSS)] if k > 2 else None
        c.send(t + 0.0002 + 0.001 * k, srv, 1, rel_ack=1 + 2 * MSS, sack=sack)
    cli.lose(4)  # the fast re-send and timer copies of segment 3, or new data
    c.send(t + 0.009 + silence, cli, 1 + 2 * MSS, MSS, rel_ack=1)  # segment 3 by the timer
    c.send(t + 0.0092 + silence, srv, 1, rel_ack=1 + 10 * MSS)
    c.send(t + 0.01 + silence, cli, 1 + 10 * MSS, MSS, rel_ack=1)  # segment 11
    c.send(t + 0.0102 + silence, srv, 1, rel_ack=1 + 11 * MSS)
    for j in range(12):  # so that three in four of the phone's ID steps are +1 (`ipid_step1`)
        c.send(t + 0.5 + silence + 0.1 * j, cli, 1 + 11 * MSS, rel_ack=1)
    a = analyze(frame(c), device=PHONE)
    assert _classes(a.segments, PHONE) == ["new"] * 9 + ["retransmission", expected]


@pytest.mark.parametrize("later, expected", [(0.0, "retransmission"), (0.2, "new")],
                         ids=["lower-hole-first-re-sent-after-the-gap", "lower-hole-re-sent-by-the-timer"])
def test_late_segment_not_re_sent_before_a_lower_hole(later: float, expected: str) -> None:
    """Phone-side capture of a download (seed 608): segment 3 is lost, segment 6 held on the way
    and SACKed after 7 and 8, and one server ID goes missing after segment 10, the highest. Then
    the server re-sends segment 3, and segment 11, which starts at the next byte expected. The
    hidden packet was segment 11's first copy, or a needless re-send of segment 6, which the
    server had not yet heard had arrived. Not the latter: Linux re-sends what it marks lost
    lowest first and marks segment 3, sent earlier, no later than 6, and segment 3's re-send
    echoes an ACK from before the gap, so it was its first: segment 11 is a `retransmission`.
    When that re-send comes 200 ms after the gap, by the timer, the hidden packet may have been
    an earlier copy of segment 3, and segment 11 is `new`."""
    c = Conn(Endpoint(PHONE, 54080 + (later > 0), 93), Endpoint(SERVER, 80, 2_700_000))
    t = c.handshake(43.0, rtt=0.05)
    cli, srv = c.client, c.server

    def seg(k: int, at: float, tsecr: int | None = None, sent_as: tuple[int, int] | None = None) -> dict:
        ip_id, tsval = sent_as or (None, None)
        return c.send(t + at, srv, 1 + k * MSS, MSS, rel_ack=1, tsecr=tsecr, ip_id=ip_id, tsval=tsval)

    def ack(at: float, upto: int, sack: list[tuple[int, int]] | None = None) -> dict:
        """The phone's ACK, echoing TS.Recent: the TSval of the last segment at its left edge."""
        blocks = [(1 + a * MSS, 1 + b * MSS) for a, b in sack] if sack else None
        return c.send(t + at, cli, 1, rel_ack=1 + upto * MSS, sack=blocks, tsecr=recent[-1])

    early = c.rows[-1]["opt_tsval"]  # the phone's ACK of the handshake
    recent = [c.rows[1]["opt_tsval"]]  # segment 1 never arrives: TS.Recent stays the SYN/ACK's
    srv.lose()  # segment 1 (hole M)
    seg(1, 0.011)
    ack(0.0112, 0, [(1, 2)])
    srv.lose()  # segment 3 (hole L)
    seg(3, 0.013)
    ack(0.0132, 0, [(3, 4), (1, 2)])
    seg(4, 0.014)
    ack(0.0142, 0, [(3, 5), (1, 2)])
    srv.lose()  # segment 1's first re-send, lost again
    srv.lose()  # segment 6, held on the way: its ID and TSval are taken now
    held = (srv.ip_id, srv.ts)
    seg(6, 0.016)  # segment 7
    missing_6 = ack(0.0162, 0, [(6, 7), (3, 5), (1, 2)])["opt_tsval"]
    seg(7, 0.017)
    ack(0.0172, 0, [(6, 8), (3, 5), (1, 2)])
    seg(5, 0.0175, sent_as=held)  # segment 6, late
    ack(0.0177, 0, [(3, 8), (1, 2)])
    seg(8, 0.018, tsecr=early)
    ack(0.0182, 0, [(3, 9), (1, 2)])
    seg(9, 0.019, tsecr=early)  # segment 10, the highest
    ack(0.0192, 0, [(3, 10), (1, 2)])
    srv.lose()  # segment 11's first copy, or a re-send of segment 6
    ack(0.03, 0, [(3, 10), (1, 2)])  # a window update
    seg(2, later + 0.06, tsecr=missing_6)  # segment 3 re-sent
    ack(later + 0.0602, 0, [(1, 10)])
    recent.append(seg(0, later + 0.09, tsecr=missing_6)["opt_tsval"])  # segment 1 re-sent again
    heard = ack(later + 0.0902, 10)["opt_tsval"]
    recent.append(seg(10, later + 0.1, tsecr=heard)["opt_tsval"])  # segment 11
    ack(later + 0.1002, 11)
    for k in range(11, 15):  # so that three in four of the server's ID steps are +1 (`ipid_step1`)
        seg(k, later + 0.11 + 0.001 * k)
    a = analyze(frame(c), device=PHONE)
    classes = _classes(a.segments, SERVER)
    assert classes[:11] == ["new"] * 5 + ["reordered"] + ["new"] * 2 + ["retransmission"] * 2 + [expected]


def test_window_probe_hidden_before_the_window_opens() -> None:
    """Phone-side capture of a download whose receiver stops reading (seed 622): the phone
    advertises a zero window, the server's first window probe is lost upstream (one server ID
    missing), the next is seen, and when the phone opens its window the server's next segment
    starts at the next byte expected. The hidden packet was a probe, not new data: that segment
    is `new`, not the re-send the unaccounted-gap rule would take it for."""
    c = Conn(Endpoint(PHONE, 54070, 92), Endpoint(SERVER, 80, 2_600_000))
    t = c.handshake(42.0, rtt=0.05)
    cli, srv = c.client, c.server
    for k in range(8):
        c.send(t + 0.01 + 0.001 * k, srv, 1 + k * MSS, MSS, rel_ack=1)
        if k % 2:
            c.send(t + 0.0102 + 0.001 * k, cli, 1, rel_ack=1 + (k + 1) * MSS, win=0 if k == 7 else 512)
    srv.lose()  # the first window probe
    c.send(t + 0.6, srv, 8 * MSS, rel_ack=1)  # the next one: one byte below the next expected
    c.send(t + 0.6002, cli, 1, rel_ack=1 + 8 * MSS, win=0)
    update = c.send(t + 0.9, cli, 1, rel_ack=1 + 8 * MSS)  # the window opens
    c.send(t + 0.95, srv, 1 + 8 * MSS, MSS, rel_ack=1, tsecr=update["opt_tsval"])
    c.send(t + 0.9502, cli, 1, rel_ack=1 + 9 * MSS)
    for j in range(4):  # so that three in four of the server's ID steps are +1 (`ipid_step1`)
        c.send(t + 1.0 + 0.1 * j, srv, 1 + 9 * MSS, rel_ack=1)
    a = analyze(frame(c), device=PHONE)
    assert _classes(a.segments, SERVER) == ["new"] * 9
    assert _bases(a.segments, SERVER)[-1] == "above_highest"


@pytest.mark.parametrize("skip, expected", [(1, "retransmission"), (2, "new")],
                         ids=["within-reach", "beyond-reach"])
def test_resend_above_the_next_byte_after_a_lost_resend(skip: int, expected: str) -> None:
    """As above (segments 9 and 10 hidden and lost), but the RTO re-send of segment 9 is lost
    again (one more phone ID missing), so the next segment seen, segment 10's re-send, starts
    above the next byte expected. It lies within what the two hidden packets carried, after an
    ID gap of its own: a re-send. A segment beyond their reach (segment 11, skipping two) is new.
    Segment 9's next re-send fills the hole below either (a re-send); two ACKs of the phone
    follow, so that three in four of its ID steps are +1 (`ipid_step1`) despite the losses."""
    c = Conn(Endpoint(PHONE, 53860, 73), Endpoint(SERVER, 8080, 1_900_000))
    t = c.handshake(18.0, rtt=0.05, near_client=False)
    cli, srv = c.client, c.server
    _eight_with_the_fourth_lost(c, t, cli, srv)
    cli.lose(2)  # segments 9 and 10, lost
    c.send(t + 0.06, cli, 1 + 3 * MSS, MSS, rel_ack=1)  # re-send of the lowest hole
    c.send(t + 0.0602, srv, 1, rel_ack=1 + 8 * MSS)
    cli.lose(skip)  # the RTO re-send of segment 9 (and with skip 2, segment 10's), lost
    c.send(t + 0.3001, cli, 1 + (8 + skip) * MSS, MSS, rel_ack=1)
    c.send(t + 0.55, cli, 1 + 8 * MSS, MSS, rel_ack=1)  # segment 9 again
    for j in range(2):
        c.send(t + 0.6 + 0.1 * j, cli, 1 + (9 + skip) * MSS, rel_ack=1)
    a = analyze(frame(c), device=PHONE)
    assert _classes(a.segments, PHONE) == ["new"] * 7 + ["retransmission", expected, "retransmission"]


@pytest.mark.parametrize("hidden, expected", [(1, "new"), (2, "retransmission")],
                         ids=["lower-resend-lost", "lower-resend-and-top-segment-lost"])
def test_resend_above_a_lower_hole_after_a_gap(hidden: int, expected: str) -> None:
    """Server-side capture of an upload of 16 segments: the 10th and 12th are lost (two holes).
    Right after segment 16, the highest seen, `hidden` phone IDs go missing before the fast
    re-send of segment 12, which is not the lowest hole. A sender re-sends holes from the lowest
    up, so one hidden packet can be the re-send of segment 10, lost again; a second one was new
    data (segment 17), lost, and its re-send after the timer starts exactly at the next byte
    expected (seed 49)."""
    c = Conn(Endpoint(PHONE, 53870, 79), Endpoint(SERVER, 8080, 2_000_000))
    t = c.handshake(19.0, rtt=0.05, near_client=False)
    cli, srv = c.client, c.server
    for k in range(16):
        if k in (9, 11):
            cli.lose()
            continue
        c.send(t + 0.001 * k, cli, 1 + k * MSS, MSS, rel_ack=1)
        blocks = [(1 + 12 * MSS, 1 + (k + 1) * MSS)] if k > 11 else []
        blocks += [(1 + 10 * MSS, 1 + 11 * MSS)] if k >= 10 else []
        c.send(t + 0.0002 + 0.001 * k, srv, 1, rel_ack=1 + min(k + 1, 9) * MSS, sack=blocks or None)
    cli.lose(hidden)  # segment 10's fast re-send (and segment 17), lost
    c.send(t + 0.06, cli, 1 + 11 * MSS, MSS, rel_ack=1)  # fast re-send of segment 12
    c.send(t + 0.0602, srv, 1, rel_ack=1 + 9 * MSS, sack=[(1 + 10 * MSS, 1 + 16 * MSS)])
    c.send(t + 0.3, cli, 1 + 9 * MSS, MSS, rel_ack=1)  # the RTO re-send of segment 10
    c.send(t + 0.3002, srv, 1, rel_ack=1 + 16 * MSS)
    c.send(t + 0.36, cli, 1 + 16 * MSS, MSS, rel_ack=1)  # segment 17: re-sent, or new
    c.send(t + 0.3602, srv, 1, rel_ack=1 + 17 * MSS)
    a = analyze(frame(c), device=PHONE)
    assert _classes(a.segments, PHONE) == ["new"] * 14 + ["retransmission"] * 2 + [expected]


@pytest.mark.parametrize("hidden, expected", [(1, "new"), (3, "retransmission")],
                         ids=["fast-resend-lost", "fast-resend-and-top-segments-lost"])
def test_timer_resend_of_the_lowest_hole(hidden: int, expected: str) -> None:
    """Client-side capture of a download: segment 4 is lost and the phone SACKs around it. The
    server's re-send of it comes 0.3 s after its highest segment (a timer), after `hidden` missing
    IDs. One of them is the fast re-send of the same hole the SACKs asked for, lost too (it would
    have filled the hole); only the others can be new data lost above the bytes seen."""
    c = Conn(Endpoint(PHONE, 53800, 47), Endpoint(SERVER, 443, 1_300_000))
    t = c.handshake(12.0, rtt=0.05)
    srv = c.server
    _eight_with_the_fourth_lost(c, t, srv, c.client)
    srv.lose(hidden)
    c.send(t + 0.31, srv, 1 + 3 * MSS, MSS, rel_ack=1)  # the RTO re-send of segment 4
    c.send(t + 0.3102, c.client, 1, rel_ack=1 + 8 * MSS)
    c.send(t + 0.36, srv, 1 + 8 * MSS, MSS, rel_ack=1)  # new data, or re-sends of hidden segments
    c.send(t + 0.3601, srv, 1 + 9 * MSS, MSS, rel_ack=1)
    a = analyze(frame(c), device=PHONE)
    assert _classes(a.segments, SERVER) == ["new"] * 7 + ["retransmission"] + [expected] * 2


@pytest.mark.parametrize("hidden, twelfth", [(3, "new"), (4, "retransmission")],
                         ids=["fast-resends-and-one-top-segment-lost", "and-two-top-segments-lost"])
def test_timer_resend_of_the_lowest_of_two_holes(hidden: int, twelfth: str) -> None:
    """Client-side capture of a download: segments 3 and 6 of ten are lost and the phone SACKs
    around them. Then `hidden` server IDs go missing: the fast re-sends of both holes (the SACKs
    asked for both, the lowest first), lost too, and segment 11 (and 12). The timer re-sends
    segment 3, 0.3 s after segment 10, then segment 6, then 11 and 12. Both fast re-sends went
    before the timer fired, the higher hole's too: only the others can be new data lost above the
    bytes seen (seed 480, a blackout: one hidden packet was the re-send of a hole above the
    lowest)."""
    c = Conn(Endpoint(PHONE, 54030, 95), Endpoint(SERVER, 443, 2_700_000))
    t = c.handshake(43.0, rtt=0.05)
    srv, cli = c.server, c.client
    got: set[int] = set()
    for k in range(10):
        if k in (2, 5):
            srv.lose()
            continue
        c.send(t + 0.001 * k, srv, 1 + k * MSS, MSS, rel_ack=1)
        got.add(k)
        una = next(j for j in range(11) if j not in got)
        runs = [j for j in sorted(got) if j > una]
        blocks = [(1 + j * MSS, 1 + (j + 1) * MSS) for j in runs]
        merged: list[tuple[int, int]] = []
        for lo, hi in blocks:
            if merged and merged[-1][1] == lo:
                merged[-1] = (merged[-1][0], hi)
            else:
                merged.append((lo, hi))
        c.send(t + 0.0002 + 0.001 * k, cli, 1, rel_ack=1 + una * MSS, sack=merged[::-1] or None)
    srv.lose(hidden)
    c.send(t + 0.31, srv, 1 + 2 * MSS, MSS, rel_ack=1)  # the timer's re-send of segment 3
    c.send(t + 0.3102, cli, 1, rel_ack=1 + 5 * MSS, sack=[(1 + 6 * MSS, 1 + 10 * MSS)])
    c.send(t + 0.36, srv, 1 + 5 * MSS, MSS, rel_ack=1)  # segment 6
    c.send(t + 0.3602, cli, 1, rel_ack=1 + 10 * MSS)
    c.send(t + 0.41, srv, 1 + 10 * MSS, MSS, rel_ack=1)  # segments 11 and 12
    c.send(t + 0.4101, srv, 1 + 11 * MSS, MSS, rel_ack=1)
    c.send(t + 0.4103, cli, 1, rel_ack=1 + 12 * MSS)
    for j in range(8):  # so that three in four of the server's ID steps are +1 (`ipid_step1`)
        c.send(t + 0.5 + 0.1 * j, srv, 1 + 12 * MSS, rel_ack=1)
    a = analyze(frame(c), device=PHONE)
    assert _classes(a.segments, SERVER) == ["new"] * 8 + ["retransmission"] * 3 + [twelfth]


def _resends_sacked(c: Conn, t: float, rtt: float, sack_after: float) -> None:
    """Segment 2 is lost, segment 4 held on the way; the server SACKs around both an `rtt`
    after they were sent and the phone re-sends both; `sack_after` the re-sends, a SACK covers
    segment 4 (the cumulative ACK stays below, at segment 2, so its echo tells nothing: RFC
    7323's TS.Recent moves only at the left edge); a round trip later, everything is acknowledged."""
    for k in range(8):
        c.send(t + 0.001 * k, c.client, 1 + k * MSS, MSS, rel_ack=1)
    for k in (0, 2, 4, 5, 6, 7):
        blocks = [(1 + 2 * MSS, 1 + min(k + 1, 3) * MSS)] + ([(1 + 4 * MSS, 1 + (k + 1) * MSS)] if k > 3 else [])
        c.send(t + rtt + 0.001 * k, c.server, 1, rel_ack=1 + MSS, sack=blocks[::-1] if k else None)
    c.send(t + rtt + 0.0075, c.client, 1 + MSS, MSS, rel_ack=1)  # the fast re-sends of segments 2 and 4
    c.send(t + rtt + 0.0076, c.client, 1 + 3 * MSS, MSS, rel_ack=1)
    c.send(t + rtt + 0.0076 + sack_after, c.server, 1, rel_ack=1 + MSS, sack=[(1 + 2 * MSS, 1 + 8 * MSS)])
    c.send(t + 2 * rtt + 0.008, c.server, 1, rel_ack=1 + 8 * MSS)  # the re-send of segment 2 arrived


@pytest.mark.parametrize(
    "sack_after, expected",
    [
        (0.01, "spurious_retransmission"),
        (0.014, "spurious_retransmission"),
        (0.029, "spurious_retransmission"),
        (0.04, "retransmission"),
        (0.055, "retransmission"),
    ],
    ids=["sacked-at-a-fifth", "sacked-at-0.28", "sacked-at-0.58", "sacked-at-0.8", "sacked-a-round-trip-later"],
)
def test_sack_of_a_resend_sooner_than_a_round_trip(sack_after: float, expected: str) -> None:
    """Phone-side capture of an upload (RTT 50 ms, `_resends_sacked`). A SACK covering segment 4
    10, 14 or 29 ms after its re-send (a fifth, 0.28 as in seed 20, or 0.58 as in seed 532, of
    the RTT) cannot answer the re-send (RFC 8985 6.2, Linux's tcp_rack_advance(); tcpscope asks
    for less than 0.7 of the smallest RTT, for jitter): the original arrived, the re-send was
    needless and the original `reordered`. At 0.8 of a round trip after the re-send, or later,
    the re-send may have filled it (the lab's needed re-sends were SACKed at 0.84 or more)."""
    c = Conn(Endpoint(PHONE, 53810, 53), Endpoint(SERVER, 443, 1_400_000))
    t = c.handshake(13.0, rtt=0.05)
    _resends_sacked(c, t, 0.05, sack_after)
    a = analyze(frame(c), device=PHONE)
    original = "reordered" if expected == "spurious_retransmission" else "new"
    assert _classes(a.segments, PHONE) == ["new"] * 3 + [original] + ["new"] * 4 + ["retransmission", expected]


@pytest.mark.parametrize("sibling, expected", [(True, "retransmission"), (False, "spurious_retransmission")],
                         ids=["path-rtt-from-another-connection", "own-rtt-only"])
def test_sack_too_soon_against_the_paths_smallest_rtt(sibling: bool, expected: str) -> None:
    """As above, but the upload runs behind a standing queue: its handshake and every ACK take
    150 ms, while the SACK of segment 4 comes 47 ms after the re-sends (the queue drained after
    the loss; seed 30). Another connection between the same hosts had a 50 ms handshake: against
    that, 47 ms is a round trip, and the re-send may have filled the hole. Without it, tcpscope
    has only the connection's own smallest RTT, 47 ms is under half of it, and the re-send is
    taken for needless (a queue that drained after the loss can make that wrong)."""
    c = Conn(Endpoint(PHONE, 53820, 59), Endpoint(SERVER, 443, 1_500_000))
    t = c.handshake(14.0, rtt=0.15)
    _resends_sacked(c, t, 0.15, 0.047)
    conns = [c]
    if sibling:
        other = Conn(Endpoint(PHONE, 53821, 61), Endpoint(SERVER, 443, 1_600_000))
        other.handshake(13.0, rtt=0.05)
        conns.append(other)
    a = analyze(frame(*conns), device=PHONE)
    original = "reordered" if expected == "spurious_retransmission" else "new"
    got = _classes(a.segments.filter(pl.col("sport") == 53820), PHONE)
    assert got == ["new"] * 3 + [original] + ["new"] * 4 + ["retransmission", expected]


@pytest.mark.parametrize("hidden, expected", [(True, "retransmission"), (False, "new")],
                         ids=["top-segment-lost", "nothing-hidden"])
def test_needless_resend_of_a_late_hole_shows_the_gap(hidden: bool, expected: str) -> None:
    """Client-side capture of a download: segment 4 is held on the way and arrives after
    segment 8 (`reordered`). The server's fast re-send of it, needless by then, comes after one
    missing server ID right behind segment 8: the hidden packet was segment 9, lost, and its
    re-send later starts at the next byte expected (`retransmission`, as for a hole's re-send)."""
    c = Conn(Endpoint(PHONE, 53840, 67), Endpoint(SERVER, 443, 1_700_000))
    t = c.handshake(16.0, rtt=0.05)
    srv = c.server
    held = (srv.ip_id + 4, srv.ts + 4)
    _eight_with_the_fourth_lost(c, t, srv, c.client)
    if hidden:
        srv.lose()  # segment 9, lost upstream
    c.send(t + 0.009, srv, 1 + 3 * MSS, MSS, rel_ack=1, ip_id=held[0], tsval=held[1])  # segment 4, late
    c.send(t + 0.0092, c.client, 1, rel_ack=1 + 8 * MSS)
    c.send(t + 0.052, srv, 1 + 3 * MSS, MSS, rel_ack=1)  # the fast re-send of segment 4
    c.send(t + 0.35, srv, 1 + 8 * MSS, MSS, rel_ack=1)  # segment 9: its RTO re-send, or new
    a = analyze(frame(c), device=PHONE)
    assert _classes(a.segments, SERVER) == ["new"] * 7 + ["reordered", "spurious_retransmission", expected]


@pytest.mark.parametrize("hidden, expected", [(1, "new"), (2, "retransmission")],
                         ids=["lower-resend-lost", "lower-resend-and-top-segment-lost"])
def test_needless_resend_of_a_late_hole_above_a_lower_hole(hidden: int, expected: str) -> None:
    """Client-side capture of a download of 16 segments: the 10th is lost, the 12th held on the
    way (`reordered`). Right after segment 16, `hidden` server IDs go missing before the fast
    re-send of segment 12 (needless). The sender re-sends holes from the lowest up, so one hidden
    packet can be the re-send of segment 10, lost again; only a second one was new data, segment
    17, whose re-send after the timer starts at the next byte expected (seed 51)."""
    c = Conn(Endpoint(PHONE, 53880, 83), Endpoint(SERVER, 443, 2_100_000))
    t = c.handshake(20.0, rtt=0.05)
    srv, cli = c.server, c.client
    held = None
    for k in range(16):
        if k in (9, 11):
            srv.lose()
            held = (srv.ip_id, srv.ts)
            continue
        sent = c.send(t + 0.001 * k, srv, 1 + k * MSS, MSS, rel_ack=1)
        if k < 9:
            in_order = sent["opt_tsval"]
        blocks = [(1 + 12 * MSS, 1 + (k + 1) * MSS)] if k > 11 else []
        blocks += [(1 + 10 * MSS, 1 + 11 * MSS)] if k >= 10 else []
        c.send(t + 0.0002 + 0.001 * k, cli, 1, rel_ack=1 + min(k + 1, 9) * MSS, tsecr=in_order, sack=blocks or None)
    srv.lose(hidden)  # segment 10's fast re-send (and segment 17), lost
    c.send(t + 0.02, srv, 1 + 11 * MSS, MSS, rel_ack=1, ip_id=held[0], tsval=held[1])  # segment 12, late
    c.send(t + 0.0202, cli, 1, rel_ack=1 + 9 * MSS, tsecr=in_order, sack=[(1 + 10 * MSS, 1 + 16 * MSS)])
    c.send(t + 0.052, srv, 1 + 11 * MSS, MSS, rel_ack=1)  # the fast re-send of segment 12, needless
    c.send(t + 0.3, srv, 1 + 9 * MSS, MSS, rel_ack=1)  # the RTO re-send of segment 10
    c.send(t + 0.3002, cli, 1, rel_ack=1 + 16 * MSS)
    c.send(t + 0.35, srv, 1 + 16 * MSS, MSS, rel_ack=1)  # segment 17: re-sent, or new
    a = analyze(frame(c), device=PHONE)
    assert _classes(a.segments, SERVER) == (
        ["new"] * 14 + ["reordered", "spurious_retransmission", "retransmission", expected]
    )


def _eight_down_with_late(c: Conn, t: float, held: tuple[int, ...]) -> None:
    """The server sends eight full segments 1 ms apart; those in `held` (0-based) are held on the
    way and arrive after the eighth, with their own IDs and TSvals. The phone ACKs each arrival,
    echoing the last in-order segment's TSval and SACKing the runs that arrived above the first
    held one (lowest first), then ACKs all eight."""
    srv, cli = c.server, c.client
    late = {}
    for k in range(8):
        if k in held:
            srv.lose()
            late[k] = (srv.ip_id, srv.ts)
            continue
        sent = c.send(t + 0.001 * k, srv, 1 + k * MSS, MSS, rel_ack=1)
        if k < held[0]:
            in_order = sent["opt_tsval"]
        runs: list[tuple[int, int]] = []
        for j in range(held[0] + 1, k + 1):
            if j in held:
                continue
            if runs and runs[-1][1] == 1 + j * MSS:
                runs[-1] = (runs[-1][0], 1 + (j + 1) * MSS)
            else:
                runs.append((1 + j * MSS, 1 + (j + 1) * MSS))
        c.send(t + 0.0002 + 0.001 * k, cli, 1, rel_ack=1 + min(k + 1, held[0]) * MSS, tsecr=in_order,
               sack=runs or None)
    for j, k in enumerate(held):  # the late originals
        c.send(t + 0.009 + 0.0001 * j, srv, 1 + k * MSS, MSS, rel_ack=1, ip_id=late[k][0], tsval=late[k][1])
    c.send(t + 0.0092, cli, 1, rel_ack=1 + 8 * MSS)


@pytest.mark.parametrize("lag, expected", [(0.012, "retransmission"), (0.07, "new")],
                         ids=["sooner-than-a-round-trip", "a-round-trip-later"])
def test_hole_resent_in_an_earlier_gap_is_not_in_the_next(lag: float, expected: str) -> None:
    """Server-side capture of an upload over a 50 ms path. Of 14 segments, 2 and 5 are lost; the
    SACKs come back, and the phone sends new segments 15 and 16 with its re-send of segment 2
    between them, lost again (an ID gap before segment 16, at the next byte expected: a hidden
    re-send). Then segment 17 is lost above the bytes seen, and the re-send of segment 5 comes
    right after that gap. Sooner than a round trip after segment 2's copy (`lag`), the sender
    cannot have learnt that copy lost, so the gap hid segment 17, and its timer re-send later, at
    the next byte expected, is a re-send (seed 210). A round trip later, the gap may hold segment
    2's second copy: the same segment at the next byte expected is new data. Segment 2's last
    copy comes once the phone can have heard the SACK of segment 5's re-send, sent after the gap
    (a sender re-sends a lost copy again only once a SACK of a later packet, or its timer, shows
    it lost: sooner, the gap could not have held a copy of segment 2)."""
    c = Conn(Endpoint(PHONE, 53790, 41), Endpoint(SERVER, 8080, 3_000_000))
    t = c.handshake(12.0, rtt=0.05, near_client=False)
    cli, srv = c.client, c.server

    def up(at: float, k: int) -> None:
        """The phone's segment k+1, echoing the newest server packet it can have heard."""
        c.send(at, cli, 1 + k * MSS, MSS, rel_ack=1, tsecr=c.heard(SERVER, at))

    for k in range(14):
        if k in (1, 4):  # segments 2 and 5, lost upstream
            cli.lose()
            continue
        up(t + 0.001 * k, k)
        sack = [(1 + 2 * MSS, 1 + (k + 1) * MSS)]
        if k > 4:
            sack = [(1 + 5 * MSS, 1 + (k + 1) * MSS), (1 + 2 * MSS, 1 + 4 * MSS)]
        c.send(t + 0.0002 + 0.001 * k, srv, 1, rel_ack=1 + MSS, sack=sack if k > 1 else None)
    up(t + 0.05, 14)  # segment 15
    cli.lose()  # segment 2's re-send, lost again
    up(t + 0.051, 15)  # segment 16
    cli.lose()  # segment 17 (or, a round trip later, segment 2's second copy), lost
    up(t + 0.05 + lag, 4)  # segment 5's re-send
    c.send(t + 0.0502 + lag, srv, 1, rel_ack=1 + MSS, sack=[(1 + 2 * MSS, 1 + 16 * MSS)])
    again = max(0.15, 0.1012 + lag)  # once the phone can have heard that SACK
    up(t + again, 1)  # segment 2 again, delivered
    c.send(t + again + 0.0002, srv, 1, rel_ack=1 + 16 * MSS)
    up(t + 0.45, 16)  # segment 17: the timer's re-send, or new data
    c.send(t + 0.4502, srv, 1, rel_ack=1 + 17 * MSS)
    a = analyze(frame(c), device=PHONE)
    assert _classes(a.segments, PHONE) == ["new"] * 14 + ["retransmission"] * 2 + [expected]


@pytest.mark.parametrize("lag, expected", [(0.012, "retransmission"), (0.07, "new")],
                         ids=["sooner-than-a-round-trip", "a-round-trip-later"])
def test_hole_resent_before_a_higher_hole_is_not_in_the_next_gap(lag: float, expected: str) -> None:
    """Server-side capture of an upload over a 50 ms path. Of 20 segments, 2, 5 and 8 are lost.
    The phone sends new segment 21, then its re-sends from the lowest hole up: segment 2's, lost
    again (an ID gap right before the re-send of segment 5, a higher hole: a sender re-sends
    holes from the lowest up, and segment 22 follows at the next byte after 21, so the gap hid no
    new data), then segment 5's. Then segment 23 is lost above the bytes seen, and the re-send of
    segment 8 comes right after that gap, with segment 2 the one hole below it. Sooner than a round
    trip after segment 2's copy (`lag`), the gap hid segment 23, and its timer re-send later is a
    re-send (seed 261, at the phone's side of a download: the lowest hole's copy hidden 26 ms
    before, over a 49 ms path). A round trip later, the gap may hold segment 2's second copy,
    and its last copy comes once the phone can have heard the SACK of segment 8's re-send."""
    c = Conn(Endpoint(PHONE, 53792, 43), Endpoint(SERVER, 8080, 3_100_000))
    t = c.handshake(12.0, rtt=0.05, near_client=False)
    cli, srv = c.client, c.server
    got: set[int] = set()

    def up(at: float, k: int) -> None:
        """The phone's segment k+1, echoing the newest server packet it can have heard."""
        c.send(at, cli, 1 + k * MSS, MSS, rel_ack=1, tsecr=c.heard(SERVER, at))
        got.add(k)

    def ack(at: float) -> None:
        """The server's ACK of what it holds, SACKing the runs above the first hole, newest first."""
        una = next(k for k in range(max(got) + 2) if k not in got)
        runs = [[k, k + 1] for k in sorted(got) if k > una]
        merged: list[list[int]] = []
        for r in runs:
            if merged and merged[-1][1] == r[0]:
                merged[-1][1] = r[1]
            else:
                merged.append(r)
        sack = [(1 + lo * MSS, 1 + hi * MSS) for lo, hi in reversed(merged)][:3]
        c.send(at, srv, 1, rel_ack=1 + una * MSS, sack=sack or None)

    for k in range(20):
        if k in (1, 4, 7):  # segments 2, 5 and 8, lost upstream
            cli.lose()
            continue
        up(t + 0.001 * k, k)
        ack(t + 0.0002 + 0.001 * k)
    up(t + 0.05, 20)  # segment 21
    cli.lose()  # segment 2's re-send, lost again
    up(t + 0.0505, 4)  # segment 5's re-send
    ack(t + 0.0507)
    up(t + 0.051, 21)  # segment 22
    cli.lose()  # segment 23 (or, a round trip later, segment 2's second copy), lost
    up(t + 0.05 + lag, 7)  # segment 8's re-send
    ack(t + 0.0502 + lag)
    again = max(0.15, 0.1012 + lag)  # once the phone can have heard that SACK
    up(t + again, 1)  # segment 2 again, delivered
    ack(t + again + 0.0002)
    up(t + 0.45, 22)  # segment 23: the timer's re-send, or new data
    ack(t + 0.4502)
    a = analyze(frame(c), device=PHONE)
    assert _classes(a.segments, PHONE) == (
        ["new"] * 18 + ["retransmission", "new", "retransmission", "retransmission", expected]
    )


@pytest.mark.parametrize(
    "shows_up, ninth",
    [(0.09, "new"), (0.056, "new"), (None, "retransmission")],
    ids=["hidden-packet-shows-up-late", "hidden-packet-shows-up-before-the-next-segment", "hidden-packet-never-shows"],
)
def test_hidden_packet_that_shows_up_late_was_not_lost_above(shows_up: float | None, ninth: str) -> None:
    """Client-side capture of a download: segments 4 and 6 of eight are held on the way and arrive
    after segment 8 (`reordered`). The server re-sends both, needless by then: the re-send of
    segment 4 is held too, so one server ID is missing right after segment 8 before the re-send of
    segment 6, and the lost-above count takes it for new data lost above the bytes seen, and
    segment 9, which follows at the next byte expected, for its re-send. When the hidden re-send
    of segment 4 then arrives with its ID, the hidden packet was late, not lost, and segment 9 was
    new (seed 200); the same when it arrives before segment 9, before the count was used on any
    segment (seed 554: a needless re-send held 34 ms). If it never shows, the count stands."""
    c = Conn(Endpoint(PHONE, 53940 + (shows_up == 0.056), 87), Endpoint(SERVER, 443, 2_500_000))
    t = c.handshake(34.0, rtt=0.05)
    srv, cli = c.server, c.client
    _eight_down_with_late(c, t, (3, 5))
    srv.lose()  # the needless re-send of segment 4, held on the way
    held = (srv.ip_id, srv.ts)

    def held_copy(at: float) -> None:
        c.send(t + at, srv, 1 + 3 * MSS, MSS, rel_ack=1, ip_id=held[0], tsval=held[1])
        c.send(t + at + 0.0002, cli, 1, rel_ack=1 + (9 if at > 0.06 else 8) * MSS, sack=[(1 + 3 * MSS, 1 + 4 * MSS)])

    c.send(t + 0.052, srv, 1 + 5 * MSS, MSS, rel_ack=1)  # the re-send of segment 6, needless
    c.send(t + 0.0522, cli, 1, rel_ack=1 + 8 * MSS, sack=[(1 + 5 * MSS, 1 + 6 * MSS)])
    if shows_up is not None and shows_up < 0.06:
        held_copy(shows_up)
    c.send(t + 0.060, srv, 1 + 8 * MSS, MSS, rel_ack=1)  # segment 9
    c.send(t + 0.0602, cli, 1, rel_ack=1 + 9 * MSS)
    if shows_up is not None and shows_up > 0.06:
        held_copy(shows_up)
    c.send(t + 0.1, srv, 1 + 9 * MSS, MSS, rel_ack=1)  # segment 10
    a = analyze(frame(c), device=PHONE)
    needless = "spurious_retransmission"
    expected = {0.09: [needless, ninth, needless], 0.056: [needless, needless, ninth], None: [needless, ninth]}
    assert _classes(a.segments, SERVER) == ["new"] * 6 + ["reordered"] * 2 + expected[shows_up] + ["new"]


@pytest.mark.parametrize("held, expected", [((3, 4), "new"), ((4,), "retransmission")],
                         ids=["two-held-together", "one-held"])
def test_needless_resend_after_a_hidden_resend_of_the_late_segment_below(held: tuple, expected: str) -> None:
    """Client-side capture of a download: segments 4 and 5 are held on the way together and
    arrive after segment 8 (`reordered`). The server re-sends both, from the lowest up, needless
    by then; the re-send of segment 4 is lost, so one server ID is missing right behind segment 8
    before the re-send of segment 5. The hidden packet was that re-send, not new data lost above
    the bytes seen: segment 9, which follows, is `new` (seed 92). With only segment 5 held, the
    hidden packet can only have been segment 9, and the segment that follows is its re-send."""
    c = Conn(Endpoint(PHONE, 53890, 89), Endpoint(SERVER, 443, 2_200_000))
    t = c.handshake(21.0, rtt=0.05)
    srv, cli = c.server, c.client
    _eight_down_with_late(c, t, held)
    srv.lose()  # the re-send of segment 4, or segment 9: lost upstream
    c.send(t + 0.052, srv, 1 + 4 * MSS, MSS, rel_ack=1)  # the re-send of segment 5, needless
    c.send(t + 0.0522, cli, 1, rel_ack=1 + 8 * MSS, sack=[(1 + 4 * MSS, 1 + 5 * MSS)])
    c.send(t + 0.35, srv, 1 + 8 * MSS, MSS, rel_ack=1)  # segment 9: new, or the re-send of the hidden one
    a = analyze(frame(c), device=PHONE)
    assert _classes(a.segments, SERVER) == (
        ["new"] * (8 - len(held)) + ["reordered"] * len(held) + ["spurious_retransmission", expected]
    )


def _eight_down_without_3_and_5(c: Conn, t: float) -> tuple[dict[int, tuple[int, int]], dict]:
    """The server sends eight full segments 1 ms apart, of which the phone does not see segments
    3 and 5 yet (their IDs and TSvals, by 0-based index, are returned: held or lost); the phone
    ACKs each arrival, echoing segment 2's TSval and SACKing what came above segment 3. Also
    returns the phone's last ACK."""
    srv, cli = c.server, c.client
    late = {}
    for k in range(8):
        if k in (2, 4):
            srv.lose()
            late[k] = (srv.ip_id, srv.ts)
            continue
        sent = c.send(t + 0.001 * k, srv, 1 + k * MSS, MSS, rel_ack=1)
        if k < 2:
            in_order = sent["opt_tsval"]
        runs = [(1 + 3 * MSS, 1 + min(k + 1, 4) * MSS)] if k >= 3 else []
        runs += [(1 + 5 * MSS, 1 + (k + 1) * MSS)] if k >= 5 else []
        last = c.send(t + 0.0002 + 0.001 * k, cli, 1, rel_ack=1 + min(k + 1, 2) * MSS, tsecr=in_order,
                      sack=runs[::-1] or None)
    return late, last


@pytest.mark.parametrize("echo, expected",
                         [("sack-before-the-late-ones", "new"), ("ack-past-segment-3", "retransmission")])
def test_needless_resend_after_a_hidden_resend_of_a_late_segment_further_below(echo: str, expected: str) -> None:
    """As above, but segments 3 and 5 are held (not back to back): 3 arrives first, then 5, both
    after segment 8. The server's re-send of segment 5, needless, comes after one missing server
    ID. If it echoes the phone's SACK from before the late ones arrived, the sender had heard
    nothing of segment 3 either and re-sends from the lowest up: the hidden packet may have been
    the re-send of segment 3, and segment 9 is `new` (seed 692). If it echoes the phone's ACK of
    segment 3, the sender re-sends nothing below that: the hidden packet was segment 9, lost, and
    the segment that follows is its re-send."""
    c = Conn(Endpoint(PHONE, 54110, 97), Endpoint(SERVER, 443, 2_900_000))
    t = c.handshake(29.0, rtt=0.05)
    srv, cli = c.server, c.client
    late, sack_before = _eight_down_without_3_and_5(c, t)
    c.send(t + 0.009, srv, 1 + 2 * MSS, MSS, rel_ack=1, ip_id=late[2][0], tsval=late[2][1])  # segment 3, late
    past_3 = c.send(t + 0.0091, cli, 1, rel_ack=1 + 4 * MSS, sack=[(1 + 5 * MSS, 1 + 8 * MSS)])
    c.send(t + 0.0095, srv, 1 + 4 * MSS, MSS, rel_ack=1, ip_id=late[4][0], tsval=late[4][1])  # segment 5, late
    c.send(t + 0.0096, cli, 1, rel_ack=1 + 8 * MSS)
    heard = sack_before if echo == "sack-before-the-late-ones" else past_3
    srv.lose()  # the re-send of segment 3, or segment 9: lost upstream
    c.send(t + 0.052, srv, 1 + 4 * MSS, MSS, rel_ack=1, tsecr=heard["opt_tsval"])  # the re-send of segment 5
    c.send(t + 0.0522, cli, 1, rel_ack=1 + 8 * MSS, sack=[(1 + 4 * MSS, 1 + 5 * MSS)])
    c.send(t + 0.35, srv, 1 + 8 * MSS, MSS, rel_ack=1)  # segment 9: new, or the re-send of the hidden one
    a = analyze(frame(c), device=PHONE)
    assert _classes(a.segments, SERVER) == ["new"] * 6 + ["reordered"] * 2 + ["spurious_retransmission", expected]


@pytest.mark.parametrize(
    "echo, more, expected",
    [("sack-before-the-late-one", 0, "new"), ("ack-past-segment-3", 0, "retransmission"),
     ("sack-before-the-late-one", 40, "new")],
    ids=["sack-before-the-late-one", "ack-past-segment-3", "sack-before-the-late-one-80-packets-back"],
)
def test_hole_resent_after_a_hidden_resend_of_a_late_segment_below(echo: str, more: int, expected: str) -> None:
    """Client-side capture of a download: segment 3 of eight is held on the way and arrives after
    segment 8 (`reordered`); segment 5 is lost. The server's re-send of segment 5 comes after one
    missing server ID. If it echoes the phone's SACK from before segment 3 arrived, the sender
    took segment 3 for lost as well and re-sent it first, from the lowest up: the hidden packet
    may have been that needless re-send, and the next new segment is `new` (seed 421). If it
    echoes the phone's ACK of segment 3, the hidden packet was new data, lost, and its re-send
    follows. A busy sender may echo a packet far back: `more` new segments, each SACKed, came
    between (seed 820: about 100 packets)."""
    c = Conn(Endpoint(PHONE, 54130 + more, 101), Endpoint(SERVER, 443, 3_100_000))
    t = c.handshake(30.0, rtt=0.05)
    srv, cli = c.server, c.client
    late, sack_before = _eight_down_without_3_and_5(c, t)
    c.send(t + 0.009, srv, 1 + 2 * MSS, MSS, rel_ack=1, ip_id=late[2][0], tsval=late[2][1])  # segment 3, late
    past_3 = c.send(t + 0.0091, cli, 1, rel_ack=1 + 4 * MSS, sack=[(1 + 5 * MSS, 1 + 8 * MSS)])
    for k in range(8, 8 + more):  # new segments, SACKed above the hole at segment 5
        c.send(t + 0.01 + 0.0001 * k, srv, 1 + k * MSS, MSS, rel_ack=1, tsecr=sack_before["opt_tsval"])
        c.send(t + 0.01002 + 0.0001 * k, cli, 1, rel_ack=1 + 4 * MSS, sack=[(1 + 5 * MSS, 1 + (k + 1) * MSS)])
    heard = sack_before if echo == "sack-before-the-late-one" else past_3
    srv.lose()  # the re-send of segment 3, or the next new segment: lost upstream
    c.send(t + 0.052, srv, 1 + 4 * MSS, MSS, rel_ack=1, tsecr=heard["opt_tsval"])  # the re-send of segment 5
    c.send(t + 0.0522, cli, 1, rel_ack=1 + (8 + more) * MSS)
    c.send(t + 0.35, srv, 1 + (8 + more) * MSS, MSS, rel_ack=1)  # new, or the re-send of the hidden one
    a = analyze(frame(c), device=PHONE)
    assert _classes(a.segments, SERVER) == ["new"] * 6 + ["reordered"] + ["new"] * more + ["retransmission", expected]


def test_needless_resend_of_the_first_of_two_late_holes() -> None:
    """As above with two held segments (4 and 6), both late: the sender's fast re-sends take the
    lowest first, so the re-send right after the ID gap is of segment 4, not of the latest late
    one; segment 9, hidden in the gap, is still found when its RTO re-send comes."""
    c = Conn(Endpoint(PHONE, 53850, 71), Endpoint(SERVER, 443, 1_800_000))
    t = c.handshake(17.0, rtt=0.05)
    srv, cli = c.server, c.client
    held = {}
    for k in range(8):
        if k in (3, 5):
            srv.lose()
            held[k] = (srv.ip_id, srv.ts)
            continue
        sent = c.send(t + 0.001 * k, srv, 1 + k * MSS, MSS, rel_ack=1)
        if k < 3:
            in_order = sent["opt_tsval"]
        c.send(t + 0.0002 + 0.001 * k, cli, 1, rel_ack=1 + min(k + 1, 3) * MSS, tsecr=in_order)
    srv.lose()  # segment 9, lost upstream
    for j, k in enumerate((3, 5)):  # the late originals
        c.send(t + 0.009 + 0.0005 * j, srv, 1 + k * MSS, MSS, rel_ack=1, ip_id=held[k][0], tsval=held[k][1])
    c.send(t + 0.0102, cli, 1, rel_ack=1 + 8 * MSS)
    c.send(t + 0.052, srv, 1 + 3 * MSS, MSS, rel_ack=1)  # the fast re-sends, needless by then
    c.send(t + 0.0521, srv, 1 + 5 * MSS, MSS, rel_ack=1)
    c.send(t + 0.35, srv, 1 + 8 * MSS, MSS, rel_ack=1)  # segment 9's RTO re-send
    a = analyze(frame(c), device=PHONE)
    assert _classes(a.segments, SERVER) == ["new"] * 6 + ["reordered"] * 2 + ["spurious_retransmission"] * 2 + [
        "retransmission"
    ]


@pytest.mark.parametrize("arrived, expected", [(True, "spurious_retransmission"), (False, "retransmission")],
                         ids=["arrived-no-room", "lost"])
def test_resend_of_bytes_the_receiver_had_no_room_for(arrived: bool, expected: str) -> None:
    """Phone-side capture of an upload into a full receive buffer. The server answers the phone's
    last 88 bytes with its old ACK number and a zero window, echoing their TSval: they arrived and
    were discarded for lack of room (no network loss), so the RTO re-send is needless by the
    truth's definition. If the answer echoes an older TSval, the 88 bytes never arrived."""
    c = Conn(Endpoint(PHONE, 53780, 41), Endpoint(SERVER, 443, 1_100_000))
    t = c.handshake(10.0, rtt=0.05)
    for k in range(3):
        c.send(t + 0.001 * k, c.client, 1 + k * MSS, MSS, rel_ack=1)
    older = c.rows[-1]["opt_tsval"]
    c.send(t + 0.05, c.server, 1, rel_ack=1 + 3 * MSS, win=1)  # 128 bytes of room left
    last = c.send(t + 0.051, c.client, 1 + 3 * MSS, 88, rel_ack=1)
    c.send(t + 0.1, c.server, 1, rel_ack=1 + 3 * MSS, win=0, tsecr=last["opt_tsval"] if arrived else older)
    c.send(t + 0.4, c.client, 1 + 3 * MSS, 88, rel_ack=1)  # the RTO re-send
    c.send(t + 0.45, c.server, 1, rel_ack=1 + 3 * MSS + 88)
    a = analyze(frame(c), device=PHONE)
    assert _classes(a.segments, PHONE) == ["new"] * 4 + [expected]


def test_syn_ack_with_ip_id_zero_keeps_the_lost_tail_rule() -> None:
    """Linux sends its SYN/ACK with IP ID 0 (the request socket has no counter yet). A server whose
    counter then runs from 40000 (below 0 in 16-bit serial order) must still have its IDs followed
    for the lost-tail rule: the SYN/ACK's ID is left out, like a reset's."""
    c = Conn(Endpoint(PHONE, 53790, 43), Endpoint(SERVER, 443, 3_000_000, ip_id=40_000))
    c.send(11.0, c.client, 0, flags=SYN, mss=1460)
    c.send(11.05, c.server, 0, flags=SYN, rel_ack=1, mss=1460, ip_id=0)
    t = 11.0505
    c.send(t, c.client, 1, rel_ack=1)
    srv = c.server
    _six_segments_down(c, t)
    srv.lose()  # the last segment, lost upstream
    c.send(t + 0.336, srv, 1 + 6 * MSS, MSS, rel_ack=1)  # its RTO re-send
    a = analyze(frame(c), device=PHONE)
    assert _classes(a.segments, SERVER) == ["new"] * 6 + ["retransmission"]


def test_hole_the_peer_acknowledged_is_closed() -> None:
    """Phone-side capture that missed one of the phone's own segments (capture loss): the server's
    cumulative ACK covers it, so the hole is gone, and a later re-send of those bytes re-sends
    bytes the peer had acknowledged (spurious), not a hole filler."""
    c = Conn(Endpoint(PHONE, 53800, 47), Endpoint(SERVER, 443, 1_200_000))
    t = c.handshake(12.0, rtt=0.05)
    for k in range(6):
        if k == 2:
            c.client.lose()  # sent, but the capture point missed it
            continue
        c.send(t + 0.001 * k, c.client, 1 + k * MSS, MSS, rel_ack=1)
    c.send(t + 0.05, c.server, 1, rel_ack=1 + 6 * MSS)
    c.send(t + 0.3, c.client, 1 + 2 * MSS, MSS, rel_ack=1)  # a needless re-send
    a = analyze(frame(c), device=PHONE)
    assert _classes(a.segments, PHONE) == ["new"] * 5 + ["spurious_retransmission"]


def test_sequence_wraparound_is_unwrapped() -> None:
    c = Conn(Endpoint(PHONE, 40000, 2**32 - 2500), Endpoint(SERVER, 80, 10))
    t = c.handshake(0.0, rtt=0.02)
    for k in range(6):
        c.send(t + 0.001 * k, c.client, 1 + k * MSS, MSS, rel_ack=1)
    c.send(t + 0.03, c.server, 1, rel_ack=1 + 6 * MSS)
    a = analyze(frame(c))
    data = a.segments.filter(pl.col("len") > 0)
    assert data["rel_seq"].to_list() == [1 + k * MSS for k in range(6)]
    assert data["seg_class"].to_list() == ["new"] * 6
    assert data["seq"].cast(pl.Int64).min() < 1000 < data["seq"].cast(pl.Int64).max()  # it did wrap
    assert a.segments.filter(pl.col("src") == SERVER)["rel_ack"].to_list()[-1] == 1 + 6 * MSS


def test_port_reuse_splits_connections_but_syn_retransmission_does_not() -> None:
    first = Conn(Endpoint(PHONE, 50000, 100), Endpoint(SERVER, 80, 900))
    first.send(0.0, first.client, 0, flags=SYN)
    first.send(1.0, first.client, 0, flags=SYN)  # SYN retransmitted: same connection
    first.send(1.05, first.server, 0, flags=SYN, rel_ack=1)
    first.send(1.1, first.client, 1, rel_ack=1)
    first.send(1.2, first.client, 1, flags=FIN, rel_ack=1)
    first.send(1.25, first.server, 1, flags=FIN, rel_ack=2)
    second = Conn(Endpoint(PHONE, 50000, 777_777_777), Endpoint(SERVER, 80, 3))
    second.send(5.0, second.client, 0, flags=SYN)
    second.send(5.05, second.server, 0, flags=SYN, rel_ack=1)
    second.send(5.1, second.client, 1, 100, rel_ack=1)
    a = analyze(frame(first, second))
    assert a.segments["flow_id"].to_list() == [0] * 6 + [1] * 3
    assert a.flows.filter(pl.col("flow_id") == 1)["start_t"].to_list() == [pytest.approx(5.0)] * 2


def test_connections_share_one_time_axis() -> None:
    one = Conn(Endpoint(PHONE, 50001, 1), Endpoint(SERVER, 443, 2))
    two = Conn(Endpoint(PHONE, 50002, 3), Endpoint("198.51.100.20", 8080, 4))
    one.handshake(10.0, rtt=0.05)
    two.handshake(13.5, rtt=0.05)
    a = analyze(frame(one, two))
    starts = a.flows.group_by("flow_id").agg(pl.col("start_t").first()).sort("flow_id")["start_t"].to_list()
    assert starts == [pytest.approx(0.0), pytest.approx(3.5)]


def test_roles_without_syn_and_config_overrides() -> None:
    c = Conn(Endpoint(PHONE, 53671, 1), Endpoint(SERVER, 443, 2))
    for k in range(3):  # a long-lived TLS flow caught mid-stream: the server pushes data
        c.send(0.1 * k, c.server, 1 + k * 100, 100, rel_ack=1)
        c.send(0.1 * k + 0.05, c.client, 1, rel_ack=1 + (k + 1) * 100)
    guessed = analyze(frame(c), device=PHONE)
    row = guessed.flows.filter(pl.col("sender") == "server").row(0, named=True)
    assert (row["server"], row["server_port"], row["direction"], row["handshake_seen"]) == (SERVER, 443, "down", False)
    assert row["n_new"] == 3 and row["bytes"] == 300
    flipped = analyze(frame(c), device=PHONE, server=PHONE, direction="up")
    row = flipped.flows.filter(pl.col("sender") == "server").row(0, named=True)
    assert (row["server"], row["direction"]) == (PHONE, "up")


def test_vantage_near_server_from_handshake() -> None:
    c = Conn(Endpoint(PHONE, 53000, 1), Endpoint(SERVER, 443, 2))
    t = c.handshake(0.0, rtt=0.08, near_client=False)
    c.send(t + 0.04, c.client, 1, 500, rel_ack=1)
    c.send(t + 0.0405, c.server, 1, rel_ack=501)
    a = analyze(frame(c), device=PHONE)
    assert set(a.flows["vantage"]) == {"server"}
    assert a.flows["handshake_rtt_ms"][0] == pytest.approx(80.5, abs=0.01)


def test_vantage_of_a_chat_without_handshake_despite_think_time() -> None:
    """Phone-side capture of a chat whose handshake came before it: six exchanges (a message, the
    server's reply 50 ms later, the phone's ACK at once), then a server push that crosses the
    phone's seventh message, its reply sent in the same millisecond, and the phone's next message
    0.44 s after them. That message's echo delay is the user's think time, not a round trip; the
    two sides' ACK delays (50 ms for the phone's data, 0.03 ms for the server's) place the
    capture point at the phone, and the phone's messages keep their 50 ms RTT (seed 106)."""
    c = Conn(Endpoint(PHONE, 53990, 59), Endpoint(SERVER, 443, 1_500_000))
    t, sent, got = 10.0, 1, 1
    for k in range(7):
        c.send(t, c.client, sent, 100, rel_ack=got)
        sent += 100
        if k < 6:
            c.send(t + 0.05, c.server, got, 29, rel_ack=sent)
            got += 29
            c.send(t + 0.05003, c.client, sent, rel_ack=got)
            t += 0.53
    push = c.send(t + 0.05, c.server, got, 29, rel_ack=sent - 100)  # crossed the message
    c.send(t + 0.0502, c.server, got + 29, 29, rel_ack=sent, tsval=push["opt_tsval"])
    got += 58
    c.send(t + 0.05023, c.client, sent, rel_ack=got)
    c.send(t + 0.49, c.client, sent, 100, rel_ack=got)
    c.send(t + 0.54, c.server, got, 29, rel_ack=sent + 100)
    a = analyze(frame(c), device=PHONE)
    assert set(a.flows["vantage"]) == {"client"}
    rtts = a.segments.filter((pl.col("src") == PHONE) & (pl.col("len") > 0))["rtt_ms"].drop_nulls()
    assert rtts.len() == 8 and rtts.max() < 51


def test_keepalive_and_window_probe() -> None:
    c = Conn(Endpoint(PHONE, 53100, 1), Endpoint(SERVER, 443, 2))
    t = c.handshake(0.0, rtt=0.05)
    c.send(t + 0.01, c.client, 1, 100, rel_ack=1)
    c.send(t + 0.06, c.server, 1, rel_ack=101)
    c.send(t + 30.0, c.client, 100, 1, rel_ack=1)  # keep-alive: one byte below snd_una
    c.send(t + 30.05, c.server, 1, rel_ack=101)
    c.send(t + 31.0, c.client, 101, 100, rel_ack=1)
    c.send(t + 31.05, c.server, 1, rel_ack=201, win=0)  # receiver window closes
    c.send(t + 31.5, c.client, 201, 1, rel_ack=1)  # zero-window probe
    c.send(t + 31.55, c.server, 1, rel_ack=201, win=0)
    a = analyze(frame(c), device=PHONE)
    assert _classes(a.segments, PHONE) == ["new", "keepalive", "new", "window_probe"]
    row = a.flows.filter(pl.col("sender") == "client").row(0, named=True)
    assert row["n_keepalive"] == 1 and row["n_window_probe"] == 1 and row["loss_rate"] == 0


def test_empty_capture_gives_empty_tables() -> None:
    a = analyze(frame())
    assert a.segments.height == 0 and a.flows.height == 0


@pytest.mark.parametrize("blocks, expected", [(3, "new"), (2, "reordered")], ids=["option-full", "room-left"])
def test_segment_below_a_full_sack_option_is_not_passed(blocks: int, expected: str) -> None:
    """Phone-side capture of an upload: segments 3, 6, 8 and 10 are lost, the others arrive in
    order. The server's ACK SACKs segment 4; its ACK of segment 5 is lost; the next one reports
    segments 11, 9 and 7, the three newest blocks, all that fit beside a timestamp (RFC 2018
    reports the most recent first): the block of segments 4 and 5 may be held and left out, so
    segment 5 does not show as passed, and the cumulative ACK after the hole's re-send leaves it
    `new` (seed 292). With room for one more block, the receiver would have reported it: segment 5
    was missing then, and arrived late (`reordered`)."""
    c = Conn(Endpoint(PHONE, 53990, 31), Endpoint(SERVER, 443, 3_500_000))
    t = c.handshake(1.0, rtt=0.05)
    for k in range(12):
        c.send(t + 0.01 + 0.001 * k, c.client, 1 + k * MSS, MSS, rel_ack=1)

    def seg(k: int) -> tuple[int, int]:  # segment k's bytes (1-based)
        return 1 + (k - 1) * MSS, 1 + k * MSS

    c.send(t + 0.061, c.server, 1, rel_ack=1 + 2 * MSS)
    c.send(t + 0.063, c.server, 1, rel_ack=1 + 2 * MSS, sack=[seg(4)])
    c.server.lose()  # its ACK of segment 5
    sack = [seg(11), seg(9), seg(7)][:blocks]
    c.send(t + 0.071, c.server, 1, rel_ack=1 + 2 * MSS, sack=sack)
    c.send(t + 0.072, c.client, 1 + 2 * MSS, MSS, rel_ack=1)  # segment 3's fast re-send
    c.send(t + 0.123, c.server, 1, rel_ack=1 + 5 * MSS, sack=sack)
    a = analyze(frame(c), device=PHONE)
    assert _classes(a.segments, PHONE)[4] == expected


@pytest.mark.parametrize("echo, expected", [("first-re-send", "retransmission"), ("second-re-send", "new")])
def test_copy_newer_than_the_echo_drew_no_answer(echo: str, expected: str) -> None:
    """Server-side capture of a chat (seed 741). The phone's message; the server's reply at once
    and two timer re-sends of it; then, after three missing phone IDs, the phone's next message.
    Three server copies could have drawn three answers, so the missing IDs may all be answers.
    But a copy at the phone's left edge sets its TS.Recent on arrival (RFC 7323 4.3): when the
    message echoes the first re-send, the second had not arrived and drew no answer, so one
    missing ID was data, the message's first copy, and this is its re-send. When it echoes the
    second re-send, all three may have been answered, and the message is new."""
    c = Conn(Endpoint(PHONE, 54170, 5_950), Endpoint(SERVER, 443, 9_950))
    t = c.handshake(2.0, rtt=0.05, near_client=False)
    cli, srv = c.client, c.server
    t = c.exchanges(t, 5)  # earlier exchanges (the phone's IDs count by 1)
    c.send(t + 0.1, cli, 501, 100, rel_ack=146)
    c.send(t + 0.1005, srv, 146, 29, rel_ack=601)  # the reply, with the ACK of the message
    first = c.send(t + 0.37, srv, 146, 29, rel_ack=601)  # its timer re-sends
    second = c.send(t + 0.66, srv, 146, 29, rel_ack=601)
    cli.lose(3)
    tsecr = (first if echo == "first-re-send" else second)["opt_tsval"]
    c.send(t + 0.95, cli, 601, 80, rel_ack=175, tsecr=tsecr)  # the next message
    c.send(t + 0.9505, srv, 175, 29, rel_ack=681)
    a = analyze(frame(c), device=PHONE)
    assert _classes(a.segments, PHONE)[-1] == expected
    assert _bases(a.segments, PHONE)[-1] == ("more_missing_ids" if expected == "retransmission" else "above_highest")


@pytest.mark.parametrize("hidden, expected", [(3, "retransmission"), (2, "new"), (5, "new")],
                         ids=["one-more-than-the-answers", "answers-only", "more-than-a-copy-and-a-probe"])
def test_more_missing_ids_than_answers(hidden: int, expected: str) -> None:
    """Server-side capture of a chat (seeds 194, 228, 332). The phone's message, the server's
    reply at once, and its loss probe 0.27 s later; then the phone's next message 0.6 s after
    its first, acknowledging the reply, after `hidden` missing phone IDs. Two server packets
    could have drawn the phone's answers (an ACK of the reply, a D-SACK of the probe), so with
    three missing one was data: the message's first copy, and this is its re-send. With two
    missing, they may all be answers and the message new. With five, more data than a first
    copy and its probe was hidden, and nothing is said."""
    c = Conn(Endpoint(PHONE, 54000 + hidden, 5_900), Endpoint(SERVER, 443, 9_900))
    t = c.handshake(1.0, rtt=0.05, near_client=False)
    cli, srv = c.client, c.server
    t = c.exchanges(t, 5)  # earlier exchanges (the phone's IDs count by 1)
    c.send(t + 0.1, cli, 501, 100, rel_ack=146)
    c.send(t + 0.1005, srv, 146, 29, rel_ack=601)  # the reply, with the ACK of the message
    c.send(t + 0.37, srv, 146, 29, rel_ack=601)  # its loss probe
    cli.lose(hidden)
    c.send(t + 0.7, cli, 601, 80, rel_ack=175)  # the next message
    c.send(t + 0.7005, srv, 175, 29, rel_ack=681)
    a = analyze(frame(c), device=PHONE)
    assert set(a.flows["vantage"]) == {"server"}
    assert _classes(a.segments, PHONE)[-1] == expected
    assert _bases(a.segments, PHONE)[-1] == ("more_missing_ids" if expected == "retransmission" else "above_highest")
    # the probe: with three missing, one was the message's first copy, so two answers for two
    # copies (seeds 228, 332); with two, both answers; with five, more than the copies: unknown
    assert _bases(a.segments, SERVER)[-3:-1] == (
        ["above_highest", "resent"] if hidden == 5 else ["above_highest", "answer_count"]
    )


@pytest.mark.parametrize(
    "resend_before_message, echo, probe",
    [(0.0014, "probe", "spurious_retransmission"), (0.12, "probe", "spurious_retransmission"),
     (0.12, "re-send", "retransmission")],
    ids=["re-send-too-late-to-be-answered", "re-send-answerable-not-heard", "re-send-answerable-heard"],
)
def test_copies_sent_too_late_for_an_answer_are_not_counted(resend_before_message: float, echo: str,
                                                              probe: str) -> None:
    """Server-side capture of a chat (seed 361). The server's reply arrives and the phone's ACK of
    it is lost; so is the phone's D-SACK of the reply's loss probe. The server's timer re-sends the
    reply 1.4 ms before the phone's next message arrives here, echoing the probe: two phone IDs
    missing, and that re-send reached the phone after the message left, so only the reply and the
    probe can have drawn them. Two answers for two copies: the probe was needless. A re-send
    sent a round trip (50 ms) or more before the message may have drawn an answer too, but not
    when the message echoes the probe: the re-send would have set the phone's TS.Recent (seed
    560; until 2026-12-07 this case was `retransmission`). When it echoes the re-send: three
    copies, two answers, one copy lost, and the phone's message unacknowledged had the reply been
    lost (its timer re-send would take an ID): nothing is decided. The re-send is needless by the
    echo (Eifel), or by the phone's D-SACK when the message echoes it."""
    c = Conn(Endpoint(PHONE, 54100, 6_100), Endpoint(SERVER, 443, 8_800))
    t = c.handshake(1.0, rtt=0.05, near_client=False)
    cli, srv = c.client, c.server
    t = c.exchanges(t, 5)  # earlier exchanges: RTT samples, the phone's IDs count by 1
    c.send(t + 0.1, cli, 501, 70, rel_ack=146)
    c.send(t + 0.1004, srv, 146, 29, rel_ack=571)  # the reply: arrives, its ACK lost
    tlp = c.send(t + 0.38, srv, 146, 29, rel_ack=571)  # its loss probe: arrives, the D-SACK lost
    cli.lose(2)
    message_at = t + 0.67
    resend = c.send(message_at - resend_before_message, srv, 146, 29, rel_ack=571)  # the timer's re-send
    c.send(message_at, cli, 571, 355, rel_ack=175, tsecr=(tlp if echo == "probe" else resend)["opt_tsval"])
    c.send(message_at + 0.05, cli, 926, rel_ack=175, sack=[(146, 175)])  # D-SACK of the re-send
    a = analyze(frame(c), device=PHONE)
    assert set(a.flows["vantage"]) == {"server"}
    assert _classes(a.segments, SERVER)[-3:] == ["new", probe, "spurious_retransmission"]
    assert _bases(a.segments, SERVER)[-1] == ("eifel" if echo == "probe" else "dsack")
