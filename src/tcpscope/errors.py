"""Error types that carry a user-facing one-line message (file, frame, reason)."""

from __future__ import annotations

from pathlib import Path


class TcpscopeError(Exception):
    """Base class: every error tcpscope raises on purpose; its str() is the message a user sees."""


class CaptureError(TcpscopeError):
    """A capture file cannot be decoded: names the file, the frame (1-based) when known, and why."""

    def __init__(self, path: str | Path, reason: str, frame: int | None = None) -> None:
        self.path = str(path)
        self.reason = reason
        self.frame = frame
        where = f"{self.path}" + (f": frame {frame}" if frame is not None else "")
        super().__init__(f"{where}: {reason}")


class UnsupportedLinkTypeError(CaptureError):
    """No frame of the capture is on a link type the decoder reads (`linktype`: the first such)."""

    def __init__(self, path: str | Path, linktype: int, reason: str, frame: int | None = None) -> None:
        self.linktype = linktype
        super().__init__(path, reason, frame)


class ConfigError(TcpscopeError):
    """The config or captures table is invalid: names the row and column."""
