"""Userspace relay between the client and server TUN fds: impairs each direction and logs every packet.

Run as its own process: `python -m tcpscope.lab.relay CONFIG.json` with the TUN fds inherited
(numbers in the config). Prints READY once polling; on SIGTERM/SIGINT writes the log (Parquet) and exits.
"""

from __future__ import annotations

import heapq
import json
import os
import selectors
import signal
import sys
import time
from typing import Any

import polars as pl

from tcpscope.lab.impair import DirImpair, Impairer
from tcpscope.lab.packet import SYN, parse_ip

LOG_SCHEMA: dict[str, Any] = {
    "dir": pl.Utf8, "idx": pl.UInt32, "t_in_ns": pl.Int64, "t_out_ns": pl.Int64,
    "action": pl.Utf8, "reason": pl.Utf8, "held": pl.Boolean,
    "proto": pl.UInt8, "src": pl.Utf8, "dst": pl.Utf8, "sport": pl.UInt16, "dport": pl.UInt16,
    "seq": pl.UInt32, "ack": pl.UInt32, "flags": pl.UInt16, "win": pl.UInt16, "len": pl.UInt32,
    "ip_id": pl.UInt32, "tsval": pl.UInt32, "ip_len": pl.UInt32,
    "pick_drop": pl.Utf8, "pick_reorder": pl.Boolean,
}


class Relay:
    """Poll loop over two TUN fds with a departure heap per packet and reorder holds."""

    def __init__(self, fd_client: int, fd_server: int, c2s: DirImpair, s2c: DirImpair, seed: int) -> None:
        self.fds = {"c2s": fd_client, "s2c": fd_server}  # fd we READ for that direction
        self.out_fd = {"c2s": fd_server, "s2c": fd_client}
        self.imp = {"c2s": Impairer(c2s, seed, "c2s"), "s2c": Impairer(s2c, seed, "s2c")}
        self.rows: list[dict[str, Any]] = []
        self.heap: list[tuple[int, int, int]] = []  # (due_ns, tiebreak, row index)
        self.pkts: dict[int, bytes] = {}
        self.held: dict[str, dict[int, int]] = {"c2s": {}, "s2c": {}}  # row -> packets still to pass
        self.stop = False
        self._tb = 0
        # per direction: (idx, departure ns) of the newest packet that left, for reorder_gap_ms
        self.last_out: dict[str, tuple[int, int]] = {"c2s": (-1, 0), "s2c": (-1, 0)}

    def _read(self, d: str) -> None:
        """Drain one TUN fd: log and decide every packet read."""
        while True:
            try:
                buf = os.read(self.fds[d], 65535)
            except BlockingIOError:
                return
            now = time.time_ns()
            p = parse_ip(buf)
            is_tcp = p is not None and p.proto == 6
            dec = self.imp[d].decide(now, len(buf), bool(is_tcp and p.len > 0), bool(is_tcp and p.flags & SYN))
            row: dict[str, Any] = {
                "dir": d, "idx": dec.idx, "t_in_ns": now, "t_out_ns": None,
                "action": "drop" if dec.drop else "pending", "reason": dec.reason, "held": dec.held,
                "pick_drop": dec.pick_drop, "pick_reorder": dec.pick_reorder,
            }
            if p is not None:
                row.update(proto=p.proto, src=p.src, dst=p.dst, sport=p.sport, dport=p.dport, seq=p.seq,
                           ack=p.ack, flags=p.flags, win=p.win, len=p.len, ip_id=p.ip_id, tsval=p.tsval,
                           ip_len=p.ip_len)
            ri = len(self.rows)
            self.rows.append(row)
            if dec.drop:
                continue
            self.pkts[ri] = buf
            self._tb += 1
            heapq.heappush(self.heap, (dec.out_ns or now, self._tb, ri))
            if dec.held and dec.hold_behind > 0:
                self.held[d][ri] = dec.hold_behind

    def _send(self, ri: int) -> None:
        """Write one packet to the far TUN and stamp its departure."""
        if ri not in self.pkts:
            return
        row = self.rows[ri]
        d = row["dir"]
        gap = int(self.imp[d].cfg.reorder_gap_ms * 1e6)
        last_idx, last_ns = self.last_out[d]
        now = time.time_ns()
        if row["held"] and gap > 0 and last_idx > row["idx"] and now - last_ns < gap:
            # a later packet just passed this one: keep the reordering long enough to be real
            self._tb += 1
            heapq.heappush(self.heap, (last_ns + gap, self._tb, ri))
            return
        buf = self.pkts.pop(ri)
        try:
            os.write(self.out_fd[d], buf)
            row["action"] = "forward"
        except OSError as e:
            row["action"] = "error"
            row["reason"] = f"write:{e.errno}"
        row["t_out_ns"] = time.time_ns()
        if row["idx"] is not None and row["idx"] > self.last_out[d][0]:
            self.last_out[d] = (row["idx"], row["t_out_ns"])
        self.held[d].pop(ri, None)
        if not row["held"]:
            release = []
            for hri in list(self.held[d]):
                if self.rows[hri]["idx"] >= row["idx"]:
                    continue  # only packets sent after the held one count
                self.held[d][hri] -= 1
                if self.held[d][hri] <= 0:
                    release.append(hri)
            for hri in release:
                self._send(hri)

    def run(self) -> None:
        """Poll until stopped; packets still queued at stop are logged as `unsent`."""
        sel = selectors.DefaultSelector()
        for d, fd in self.fds.items():
            os.set_blocking(fd, False)
            sel.register(fd, selectors.EVENT_READ, d)
        print("READY", flush=True)
        while not self.stop:
            now = time.time_ns()
            while self.heap and self.heap[0][0] <= now:
                _, _, ri = heapq.heappop(self.heap)
                self._send(ri)
                now = time.time_ns()
            timeout = 0.2 if not self.heap else max(0.0, (self.heap[0][0] - now) / 1e9)
            try:
                events = sel.select(timeout)
            except InterruptedError:
                continue
            for key, _ in events:
                self._read(key.data)
        for ri in self.pkts:
            self.rows[ri]["action"] = "unsent"

    def log_frame(self) -> pl.DataFrame:
        """The per-packet log as a polars frame (schema LOG_SCHEMA)."""
        cols = {k: [r.get(k) for r in self.rows] for k in LOG_SCHEMA}
        return pl.DataFrame(cols, schema=LOG_SCHEMA)


def main(argv: list[str]) -> int:
    """Entry point of the relay process."""
    cfg = json.loads(open(argv[0]).read())
    relay = Relay(cfg["fd_client"], cfg["fd_server"], DirImpair.from_dict(cfg["c2s"]),
                  DirImpair.from_dict(cfg["s2c"]), int(cfg["seed"]))

    def _stop(*_: object) -> None:
        relay.stop = True

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    try:
        relay.run()
    finally:
        relay.log_frame().write_parquet(cfg["log"])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
