"""Build `packets` tables by hand for analysis tests: each scenario's truth is known by construction."""

from __future__ import annotations

from dataclasses import dataclass, field

import polars as pl

from tcpscope.decode import PACKETS_SCHEMA

FIN, SYN, RST, PSH, ACK = 0x01, 0x02, 0x04, 0x08, 0x10


@dataclass
class Endpoint:
    """One side of a connection: address, port, ISN and its own IP ID / TSval counters."""

    addr: str
    port: int
    isn: int
    ip_id: int = 100
    ts: int = 1000
    wscale: int | None = 7

    def lose(self, n: int = 1) -> None:
        """n packets of this side the capture point never saw: their IP IDs and TSvals are used up."""
        self.ip_id += n
        self.ts += n


@dataclass
class Conn:
    """A connection between a client and a server whose packets are appended to `rows`."""

    client: Endpoint
    server: Endpoint
    rows: list[dict] = field(default_factory=list)
    timestamps: bool = True

    def _peer(self, ep: Endpoint) -> Endpoint:
        return self.server if ep is self.client else self.client

    def send(
        self,
        t: float,
        ep: Endpoint,
        rel_seq: int,
        length: int = 0,
        flags: int = ACK,
        rel_ack: int | None = None,
        win: int = 512,
        ip_id: int | None = None,
        tsval: int | None = None,
        tsecr: int | None = None,
        sack: list[tuple[int, int]] | None = None,
        mss: int | None = None,
    ) -> dict:
        """Append one packet; sequence and ack numbers are given relative to the ISNs."""
        peer = self._peer(ep)
        if ip_id is None:
            ep.ip_id += 1
            ip_id = ep.ip_id
        if tsval is None:
            ep.ts += 1
            tsval = ep.ts
        if tsecr is None:  # echo the newest TSval heard from the peer
            tsecr = next((r["opt_tsval"] for r in reversed(self.rows) if r["src"] == peer.addr), 0) or 0
        row = {
            "frame": len(self.rows) + 1,
            "ts_ns": int(t * 1e9),
            "iface": 0,
            "linktype": 1,
            "vlan": None,
            "ip_version": 4,
            "src": ep.addr,
            "dst": peer.addr,
            "sport": ep.port,
            "dport": peer.port,
            "seq": (ep.isn + rel_seq) % 2**32,
            "ack": ((peer.isn + rel_ack) % 2**32) if rel_ack is not None else 0,
            "flags": flags | (ACK if rel_ack is not None else 0),
            "win": win,
            "len": length,
            "ip_id": ip_id % 65536,
            "ttl": 64,
            "opt_mss": mss,
            "opt_wscale": ep.wscale if flags & SYN else None,
            "opt_sackok": bool(flags & SYN),
            "opt_tsval": tsval if self.timestamps else None,
            "opt_tsecr": tsecr if self.timestamps else None,
            "sack_left": [(peer.isn + a) % 2**32 for a, _ in (sack or [])],
            "sack_right": [(peer.isn + b) % 2**32 for _, b in (sack or [])],
            "opts_complete": True,
        }
        self.rows.append(row)
        return row

    def heard(self, src: str, at: float, rtt: float = 0.05) -> int:
        """The TSval of `src`'s newest packet sent at least `rtt` before `at`: what its peer, at the
        other end of a path of that round trip from the capture point, can echo then."""
        return [r["opt_tsval"] for r in self.rows if r["src"] == src and r["ts_ns"] <= (at - rtt) * 1e9][-1]

    def exchanges(self, t: float, n: int) -> float:
        """n chat exchanges from `t`, one a second, seen at the server: the phone's 100-byte message,
        the server's 29-byte reply at once, the phone's ACK a round trip later (its IP IDs count by
        1, so the side shows its pattern). Returns the time after them."""
        for k in range(n):
            self.send(t + k, self.client, 1 + 100 * k, 100, rel_ack=1 + 29 * k)
            self.send(t + k + 0.0005, self.server, 1 + 29 * k, 29, rel_ack=101 + 100 * k)
            self.send(t + k + 0.05, self.client, 101 + 100 * k, rel_ack=30 + 29 * k)
        return t + n

    def handshake(self, t: float, rtt: float, near_client: bool = True) -> float:
        """SYN, SYN/ACK, ACK as seen near the client (or near the server); returns the end time."""
        first, second = (rtt, 0.0005) if near_client else (0.0005, rtt)
        self.send(t, self.client, 0, flags=SYN, mss=1460)
        self.send(t + first, self.server, 0, flags=SYN, rel_ack=1, mss=1460)
        self.send(t + first + second, self.client, 1, rel_ack=1)
        return t + first + second


def frame(*conns: Conn) -> pl.DataFrame:
    """The packets table of the given connections, in time order, numbered like a capture."""
    rows = [r for c in conns for r in c.rows]
    df = pl.DataFrame(rows, schema=PACKETS_SCHEMA, orient="row") if rows else pl.DataFrame(schema=PACKETS_SCHEMA)
    df = df.sort("ts_ns", maintain_order=True)
    return df.with_columns(frame=pl.int_range(1, df.height + 1, dtype=pl.UInt32))


def chat_beside_an_upload(phone: str, server: str, one_counter: bool = False) -> tuple[Conn, Conn]:
    """Server-side capture of a phone that uploads 14 segments on one connection (IP IDs from
    20,000, +1 each), then sends a chat message on another whose first copy is lost upstream and
    re-sent by the timer, and closes it: the chat side has four packets of its own (IDs +1, +2,
    +1), too few to show its IP ID pattern. Its IDs start at 50,000 (a counter of its own), or
    with `one_counter` right after the upload's (one counter for the whole host)."""
    up = Conn(Endpoint(phone, 53890, 89, ip_id=20_000), Endpoint(server, 8080, 2_200_000))
    t = up.handshake(21.0, rtt=0.05, near_client=False)
    for k in range(14):
        up.send(t + 0.001 * k, up.client, 1 + k * 1000, 1000, rel_ack=1)
        up.send(t + 0.0002 + 0.001 * k, up.server, 1, rel_ack=1 + (k + 1) * 1000)
    chat_id = up.client.ip_id if one_counter else 50_000
    chat = Conn(Endpoint(phone, 53891, 97, ip_id=chat_id), Endpoint(server, 443, 2_300_000))
    t = chat.handshake(22.0, rtt=0.05, near_client=False)
    chat.client.lose()  # the message, lost upstream
    chat.send(t + 0.3, chat.client, 1, 200, rel_ack=1)  # its re-send by the timer
    chat.send(t + 0.3002, chat.server, 1, rel_ack=201)
    chat.send(t + 0.5, chat.client, 201, flags=FIN | ACK, rel_ack=1)
    return up, chat
