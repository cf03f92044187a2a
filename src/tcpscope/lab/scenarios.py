"""The lab scenarios, named after the seed study's app features, with phone-on-busy-Wi-Fi impairments."""

from __future__ import annotations

import random
from dataclasses import dataclass, field, replace
from typing import Any

from tcpscope.lab.impair import DirImpair

CHAT = ("203.0.113.10", 443)
MEDIA = "198.51.100.20"
API = "203.0.113.10"
# host names the bulk transfers send as HTTP Host (RFC 2606 names: no real server is meant)
HOSTS = {MEDIA: "media.wechat.example", API: "api.wechat.example"}
BULK_LISTEN = [(MEDIA, 80), (MEDIA, 8080), (API, 80)]
SCHEDULE_BASE = 20261125  # + the seed: the chat schedule's RNG seed (seed 1 -> 20261126, the bundled set's)


@dataclass
class Scenario:
    """One feature: impairments per direction, the client's tasks, and its captures.tsv row."""

    name: str
    c2s: DirImpair
    s2c: DirImpair
    pre: list[dict[str, Any]] = field(default_factory=list)
    main: list[dict[str, Any]] = field(default_factory=list)
    server: str = ""  # captures.tsv hints ('' = left to inference)
    port: str = ""
    direction: str = ""
    note: str = ""
    server_capture: bool = True  # make-bundled also captures at the server vantage
    bundled: bool = True  # make-bundled makes it (False: a test fixture, tests/fixtures/stalls/)
    host: str = ""  # captures.tsv host-name pattern (matched against SNI / HTTP Host)


def wifi(rate_kbit: float, **kw: Any) -> DirImpair:
    """A busy Wi-Fi hop: 25 ms +- 8 ms, 1.5 % loss, 2 % of data held back 6 ms (a link-layer retry)
    and at least 2 ms behind the packets that pass it, a rate queue.

    The hold is by time, not 'behind N packets': inside a rate-limited burst the N packets leave
    microseconds later, a reordering no sender-side observer can see (the receiver coalesces its
    SACK for up to 1 ms), and not what a Wi-Fi retry does."""
    base = DirImpair(delay_ms=25, jitter_ms=8, loss=0.015, reorder=0.02, reorder_ms=6, reorder_behind=0, reorder_gap_ms=2,
                     rate_kbit=rate_kbit, queue_bytes=int(rate_kbit * 1000 / 8 * 0.15))
    return replace(base, **kw)


def _chat_pre() -> list[dict[str, Any]]:
    """The long-lived TLS chat connection, handshaken before the capture starts."""
    return [{"kind": "chat_connect", "name": "chat", "server": CHAT[0], "port": CHAT[1]}]


def _texts(rng: random.Random, n: int, idle_every: int = 5) -> list[list[Any]]:
    """Chat script of n small messages with short gaps and a longer idle gap every few messages."""
    steps: list[list[Any]] = []
    for i in range(n):
        steps.append(["send", rng.randint(20, 400)])
        steps.append(["sleep", rng.randint(150, 900) if (i + 1) % idle_every else 2500])
    return steps


def _chat(script: list[list[Any]], start_ms: int = 0) -> dict[str, Any]:
    """Main-phase task playing `script` on the pre-connected chat."""
    return {"kind": "chat", "name": "chat", "script": script, "start_ms": start_ms}


def _bulk(kind: str, server: str, port: int, size: int, start_ms: int = 0, **kw: Any) -> dict[str, Any]:
    """Main-phase upload/download task, as HTTP/1.1 with the server's host name."""
    kw.setdefault("host", HOSTS.get(server))
    return {"kind": kind, "server": server, "port": port, "size": size, "start_ms": start_ms, **kw}


def scenarios(seed: int = 1) -> dict[str, Scenario]:
    """All scenarios by name. The chat messages' sizes and gaps come from an RNG seeded by the run's
    `seed`, so each seed's set has its own exchange; seed 1, the bundled set's, keeps the schedule
    the committed captures were made with (the RNG then starts from 20261126)."""
    r = random.Random(SCHEDULE_BASE + seed)
    sc = [
        Scenario("send_text", wifi(3000, loss=0.03, burst_at=[25], burst_len=2), wifi(8000, loss=0.03),
                 _chat_pre(), [_chat(_texts(r, 14))], CHAT[0], str(CHAT[1]), "up",
                 "TLS chat, 14 short messages with idle gaps; 3 % loss, a 2-packet burst upstream"),
        Scenario("receive_text", wifi(3000, loss=0.03), wifi(8000, loss=0.03, burst_at=[30], burst_len=2),
                 _chat_pre(),
                 [_chat([["send", 60], ["pull", 6, 120, 600], ["sleep", 2500], ["pull", 6, 300, 250],
                         ["send", 40], ["sleep", 1500], ["pull", 4, 80, 900]])],
                 CHAT[0], "", "down", "TLS chat, the server pushes 16 messages in three rounds"),
        Scenario("send_picture", wifi(3000, loss=0.01, ge_enter=0.01, ge_exit=0.35, ge_loss=0.7), wifi(8000),
                 _chat_pre(),
                 [_chat([["send", 80], ["sleep", 3500], ["send", 200]]),
                  _bulk("upload", MEDIA, 8080, 350_000, start_ms=300)],
                 MEDIA, "8080", "up", "350 kB upload with Gilbert-Elliott burst loss; chat around it"),
        Scenario("receive_picture", wifi(3000), wifi(8000, loss=0.02, ge_enter=0.008, ge_exit=0.4, ge_loss=0.6),
                 _chat_pre(),
                 [_chat([["pull", 1, 150, 0]]),
                  _bulk("download", MEDIA, 80, 25_000, start_ms=200),
                  _bulk("download", MEDIA, 80, 320_000, start_ms=600)],
                 "", "", "", "chat notification, thumbnail and picture downloads", host="media.wechat.example"),
        Scenario("send_video", wifi(4000, queue_bytes=60_000, blackout_at=420, blackout_ms=900), wifi(8000),
                 _chat_pre(),
                 [_chat([["send", 100]]), _bulk("upload", MEDIA, 8080, 1_200_000, start_ms=200)],
                 MEDIA, "", "up", "1.2 MB upload; a 900 ms upstream blackout forces a retransmission timeout"),
        Scenario("receive_video", wifi(3000), wifi(8000, loss=0.01, reorder=0.03),
                 [], [_bulk("download", MEDIA, 80, 1_200_000, rcvbuf=65536, pause_after=400_000, pause_ms=1500)],
                 MEDIA, "80", "down", "1.2 MB download; the phone stops reading 1.5 s (zero window)"),
        Scenario("post_moments", wifi(3000, loss=0.02, reorder=0.03), wifi(8000),
                 _chat_pre(),
                 [_bulk("upload", MEDIA, 8080, 120_000), _bulk("upload", MEDIA, 8080, 180_000, start_ms=100),
                  _bulk("upload", MEDIA, 8080, 90_000, start_ms=250), _bulk("upload", API, 80, 4_000, start_ms=1500),
                  _chat([["sleep", 2000], ["send", 120]])],
                 "", "", "up", "three picture uploads in parallel, then the post itself"),
        Scenario("download_moments", wifi(3000), wifi(8000, loss=0.02, reorder=0.03, burst_at=[150], burst_len=4),
                 [], [_bulk("download", API, 80, 8_000),
                      *[_bulk("download", MEDIA, 80, s, start_ms=300 + 120 * i)
                        for i, s in enumerate((40_000, 160_000, 250_000, 60_000))]],
                 "", "", "", "timeline JSON then four pictures in parallel", host="*.wechat.example"),
    ]
    return {s.name: s for s in [*sc, *_stall_scenarios()]}


def _stall_scenarios() -> list[Scenario]:
    """Small captures with one known stall cause each (tests/fixtures/stalls/, docs/stalls.md); no random loss."""
    clean = DirImpair(delay_ms=25, jitter_ms=1)
    return [
        Scenario("stall_rto", replace(clean, blackout_at=30, blackout_ms=700), clean, [],
                 [_bulk("upload", MEDIA, 8080, 100_000)], MEDIA, "8080", "up",
                 "100 kB upload; a 700 ms upstream blackout: RTO, its re-send lost too (backoff)", bundled=False),
        Scenario("stall_zero_window", clean, clean, [],
                 [_bulk("download", MEDIA, 80, 120_000, rcvbuf=8192, pause_after=16_000, pause_ms=1500)],
                 MEDIA, "80", "down", "120 kB download; the phone stops reading 1.5 s (zero window)", bundled=False),
        Scenario("stall_idle", clean, clean, _chat_pre(),
                 [_chat([["send", 120], ["sleep", 1500], ["send", 300], ["sleep", 2000], ["send", 80]])],
                 CHAT[0], str(CHAT[1]), "up", "TLS chat, three messages 1.5 s and 2 s apart", bundled=False),
        Scenario("stall_tail_loss", replace(clean, blackout_at=16, blackout_ms=600), clean, [],
                 [_bulk("upload", MEDIA, 8080, 20_700)], MEDIA, "8080", "up",
                 "20.7 kB upload; its last segments and their probe are lost (600 ms blackout)", bundled=False),
    ]
