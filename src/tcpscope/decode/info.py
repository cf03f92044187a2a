"""CaptureInfo: what the decoder learned about a capture file (written as capture.json)."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

SKIP_REASONS = ("non_ip", "non_tcp", "truncated", "malformed", "unsupported_linktype")


@dataclass
class CaptureInfo:
    """Container facts and decode counts of one capture (see docs/design.md)."""

    path: str
    format: str
    compressed: bool
    byte_order: str
    ts_resolution: str
    linktypes: list[int]
    frames: int
    tcp_packets: int
    skipped: dict[str, int] = field(default_factory=lambda: dict.fromkeys(SKIP_REASONS, 0))
    cut_off: bool = False
    warnings: list[str] = field(default_factory=list)
    decoder: str = "tcpscope"  # "tcpscope", or "tshark" for link types only tshark reads (decode.fallback)
    status: str = "ok"  # "ok", or "failed" (workflow failure marker: pipeline.write_failure)
    error: str | None = None  # the one-line reason when status is "failed"

    def to_dict(self) -> dict:
        """Plain-JSON dict of the fields."""
        return asdict(self)

    def write_json(self, path: str | Path) -> None:
        """Write the info as JSON, atomically (temporary file in the same folder, then rename)."""
        path = Path(path)
        tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
        try:
            tmp.write_text(json.dumps(self.to_dict(), indent=2) + "\n")
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
