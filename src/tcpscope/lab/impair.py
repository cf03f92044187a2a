"""Per-direction impairment model: loss (random, Gilbert-Elliott, bursts, blackout), rate queue, delay, jitter, reordering.

Pure and seeded: every packet consumes the same four random draws whatever happens to it,
so the random decisions for the n-th packet of a direction depend only on (seed, direction, n).
Drop-tail queue drops and blackout ends depend on packet timing as well.
"""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass, field
from typing import Any

DROP_REASONS = ("blackout", "burst", "ge", "random", "queue")


@dataclass
class DirImpair:
    """Impairments for one direction; times in ms, rates in kbit/s, 0 means off."""

    delay_ms: float = 0.0
    jitter_ms: float = 0.0  # uniform in [-jitter, +jitter], FIFO kept (no reordering from jitter)
    loss: float = 0.0  # independent random loss probability
    ge_enter: float = 0.0  # Gilbert-Elliott: P(good -> bad) per packet
    ge_exit: float = 0.3  # P(bad -> good) per packet
    ge_loss: float = 0.0  # loss probability in the bad state (0 disables GE)
    burst_at: list[int] = field(default_factory=list)  # packet indices where 'drop the next k' starts
    burst_len: int = 0
    blackout_at: int = -1  # packet index where a blackout (drop everything) starts
    blackout_ms: float = 0.0
    reorder: float = 0.0  # probability that a data packet is held back
    reorder_ms: float = 0.0  # hold time (maximum, when reorder_behind > 0)
    reorder_behind: int = 0  # release after this many later packets went out (0: time only)
    reorder_gap_ms: float = 0.0  # a held packet leaves at least this long after a later packet that passed it
    rate_kbit: float = 0.0
    queue_bytes: int = 64_000  # drop-tail limit of the rate queue
    spare_syn: bool = True  # never drop SYN/SYN-ACK (keeps runs short; draws still consumed)

    def to_dict(self) -> dict[str, Any]:
        """Plain dict for JSON (the relay process gets its config this way)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "DirImpair":
        """Inverse of to_dict."""
        return cls(**d)


@dataclass
class Decision:
    """What happens to one packet: drop (with reason) or forward at out_ns, possibly held back."""

    idx: int
    drop: bool
    reason: str | None
    out_ns: int | None  # scheduled departure (ns); for held packets the maximum hold time
    held: bool = False
    hold_behind: int = 0
    pick_drop: str | None = None  # loss reason drawn for this index before sparing SYNs (no queue)
    pick_reorder: bool = False  # the reorder draw picked this index (applied to data packets only)


class Impairer:
    """Stateful impairment decisions for one direction of the relay."""

    def __init__(self, cfg: DirImpair, seed: int, direction: str) -> None:
        self.cfg = cfg
        self.rng = random.Random(f"tcpscope-lab/{seed}/{direction}")
        self.idx = 0
        self.ge_bad = False
        self.burst_left = 0
        self.blackout_until: int | None = None
        self.busy_until = 0  # rate queue: when the link finishes the queued bytes
        self.last_out = 0  # FIFO clamp for non-held packets

    def decide(self, now_ns: int, size: int, is_data: bool, is_syn: bool) -> Decision:
        """Decide drop/forward time for the next packet of this direction (arrived at now_ns, `size` IP bytes)."""
        c = self.cfg
        idx = self.idx
        self.idx += 1
        u_loss, u_ge, u_reo, u_jit = (self.rng.random() for _ in range(4))
        # Gilbert-Elliott state transition (per packet, always evaluated)
        if c.ge_loss > 0:
            self.ge_bad = (u_ge >= c.ge_exit) if self.ge_bad else (u_ge < c.ge_enter)
        reason: str | None = None
        if c.blackout_at >= 0 and idx == c.blackout_at:
            self.blackout_until = now_ns + int(c.blackout_ms * 1e6)
        if c.burst_len > 0 and idx in c.burst_at:
            self.burst_left = c.burst_len
        if self.blackout_until is not None and now_ns < self.blackout_until:
            reason = "blackout"
        elif self.burst_left > 0:
            self.burst_left -= 1
            reason = "burst"
        elif c.ge_loss > 0 and self.ge_bad and u_loss < c.ge_loss:
            reason = "ge"
        elif c.loss > 0 and u_loss < c.loss:
            reason = "random"
        pick_drop = reason
        pick_reorder = c.reorder > 0 and u_reo < c.reorder
        if reason is not None and is_syn and c.spare_syn:
            reason = None
        if reason is None and c.rate_kbit > 0:
            backlog = max(0, self.busy_until - now_ns) * c.rate_kbit / 8e6  # bytes still queued
            if backlog + size > c.queue_bytes:
                reason = "queue"
            else:
                self.busy_until = max(now_ns, self.busy_until) + int(size * 8e6 / c.rate_kbit)
        if reason is not None:
            return Decision(idx, True, reason, None, pick_drop=pick_drop, pick_reorder=pick_reorder)
        depart = self.busy_until if c.rate_kbit > 0 else now_ns
        out = depart + int((c.delay_ms + (2 * u_jit - 1) * c.jitter_ms) * 1e6)
        out = max(out, self.last_out, now_ns)
        self.last_out = out
        if is_data and pick_reorder:
            return Decision(idx, False, None, out + int(c.reorder_ms * 1e6), True, c.reorder_behind,
                            pick_drop, pick_reorder)
        return Decision(idx, False, None, out, pick_drop=pick_drop, pick_reorder=pick_reorder)
