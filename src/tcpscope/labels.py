"""Which server is which: per-connection application labels read with pyshark (tshark).

Only the few packets that carry a label are dissected and handed over by tshark
(`DISPLAY_FILTER`: TLS ClientHello and ServerHello, HTTP requests), so the pass stays
cheap; each labelled frame is mapped back to its connection through the `frame` and
`flow_id` columns of `segments`. One row per labelled `flow_id`:

| column | meaning |
| --- | --- |
| `sni` | server name of the first ClientHello (TLS SNI extension), as sent |
| `alpn` | ALPN protocols the ClientHello offers, comma-separated (`h2,http/1.1`) |
| `tls_version` | negotiated version (ServerHello); without a captured ServerHello the highest version the ClientHello offers |
| `http_host` | `Host` header of the first HTTP request |
| `http_request` | first HTTP request line (`GET /path HTTP/1.1`), cut at `MAX_TEXT` characters |

The text is what the capture holds: untrusted. Whoever displays it must escape it.
Labelling never fails a run: tshark missing, crashing or too slow (`timeout`) gives no
labels and one warning, appended to `warnings` (capture.json) and logged.
"""

from __future__ import annotations

import asyncio
import fnmatch
import logging
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

log = logging.getLogger(__name__)

LABEL_SCHEMA: dict[str, Any] = {
    "sni": pl.Utf8,
    "alpn": pl.Utf8,
    "tls_version": pl.Utf8,
    "http_host": pl.Utf8,
    "http_request": pl.Utf8,
}
LABEL_COLUMNS: tuple[str, ...] = tuple(LABEL_SCHEMA)

DISPLAY_FILTER = "tls.handshake.type == 1 || tls.handshake.type == 2 || http.request"

#: Seconds tshark may take over one capture before labelling gives up (env TCPSCOPE_TSHARK_TIMEOUT).
DEFAULT_TIMEOUT = 300.0
MAX_TEXT = 300

TLS_VERSIONS = {
    0x0300: "SSL 3.0",
    0x0301: "TLS 1.0",
    0x0302: "TLS 1.1",
    0x0303: "TLS 1.2",
    0x0304: "TLS 1.3",
}


def empty_labels() -> pl.DataFrame:
    """The label frame with no rows."""
    return pl.DataFrame(schema={"flow_id": pl.UInt32, **LABEL_SCHEMA})


def _clip(text: str | None) -> str | None:
    if text is None:
        return None
    text = text.strip()
    if not text:
        return None
    return text if len(text) <= MAX_TEXT else text[: MAX_TEXT - 1] + "\u2026"


def _fields(layer: Any, name: str) -> list[Any]:
    """Every occurrence of a field in a pyshark layer (empty when absent)."""
    field = layer.get_field(name)
    if field is None:
        return []
    return list(getattr(field, "all_fields", [field]))


def _raw_text(field: Any) -> str | None:
    """The field's bytes as text (exact, from the raw hex), falling back on tshark's show value."""
    raw = getattr(field, "raw_value", None)
    if raw:
        try:
            return bytes.fromhex(raw).decode("utf-8", errors="backslashreplace")
        except ValueError:
            pass
    return getattr(field, "show", None)


def _version(values: Iterable[Any]) -> int | None:
    """Highest known TLS version among the fields (GREASE and unknown values skipped)."""
    best = None
    for f in values:
        try:
            v = int(str(getattr(f, "raw_value", "") or "0"), 16) or int(str(f.show), 0)
        except (TypeError, ValueError):
            continue
        if v in TLS_VERSIONS and (best is None or v > best):
            best = v
    return best


def _tls_hello(layer: Any) -> tuple[str, dict[str, str | None]] | None:
    """('client'|'server', labels) of a TLS layer holding a ClientHello or ServerHello."""
    types = {str(f.show) for f in _fields(layer, "handshake_type")}
    if "1" in types:
        names = [_raw_text(f) for f in _fields(layer, "handshake_extensions_server_name")]
        alpn = [_raw_text(f) for f in _fields(layer, "handshake_extensions_alpn_str")]
        version = _version(_fields(layer, "handshake_extensions_supported_version")) or _version(
            _fields(layer, "handshake_version")
        )
        return "client", {
            "sni": _clip(next((n for n in names if n), None)),
            "alpn": _clip(",".join(a for a in alpn if a) or None),
            "tls_version": TLS_VERSIONS.get(version) if version else None,
        }
    if "2" in types:
        version = _version(_fields(layer, "handshake_extensions_supported_version")) or _version(
            _fields(layer, "handshake_version")
        )
        return "server", {"tls_version": TLS_VERSIONS.get(version) if version else None}
    return None


def _http_request(layer: Any) -> dict[str, str | None] | None:
    """Labels of an HTTP layer holding a request."""
    method = layer.get_field("request_method")
    if method is None:
        return None
    uri, version = layer.get_field("request_uri"), layer.get_field("request_version")
    line = " ".join(str(x.show) for x in (method, uri, version) if x is not None)
    hosts = _fields(layer, "host")
    host = _raw_text(hosts[0]) if hosts else None
    if host and host.lower().startswith("host:"):  # raw bytes hold the whole header line
        host = host[5:]
    return {"http_host": _clip(host), "http_request": _clip(line)}


def find_tshark(tshark: str | None = None) -> str | None:
    """Path of the tshark program (argument, env TCPSCOPE_TSHARK, then PATH) or None."""
    name = tshark or os.environ.get("TCPSCOPE_TSHARK") or "tshark"
    return shutil.which(name)


def read_hellos(
    capture: str | Path, tshark: str, timeout: float
) -> list[tuple[int, str, dict[str, str | None]]]:
    """(frame, kind, labels) of every labelled packet: kind is `client` (ClientHello),
    `server` (ServerHello) or `http`. Raises on tshark failure or timeout."""
    import pyshark  # imported here: a missing pyshark only disables labels

    # pyshark asks `tshark -v` without a time limit: ask first, with one.
    subprocess.run([tshark, "-v"], capture_output=True, timeout=min(timeout, 30), check=True)
    out: list[tuple[int, str, dict[str, str | None]]] = []

    def on_packet(pkt: Any) -> None:
        frame = int(pkt.number)
        for layer in pkt.layers:
            if layer.layer_name == "tls":
                hello = _tls_hello(layer)
                if hello:
                    out.append((frame, hello[0], hello[1]))
            elif layer.layer_name == "http":
                req = _http_request(layer)
                if req:
                    out.append((frame, "http", req))

    class Capture(pyshark.FileCapture):
        """FileCapture that reports how tshark ended (pyshark kills it without looking
        when it has not exited yet at the end of the output)."""

        async def _cleanup_subprocess(self, process: Any) -> None:
            if process.returncode is None and self._eof_reached:
                try:
                    await asyncio.wait_for(process.wait(), 10)
                except asyncio.TimeoutError:
                    pass
            if process.returncode is None:
                await super()._cleanup_subprocess(process)  # kills it
                return
            self._running_processes.discard(process)  # ended: nothing left to clean up later
            if process.returncode != 0:
                raise RuntimeError(
                    f"exit status {process.returncode}: {self._last_error_line or 'no message'}"
                )

    cap = Capture(
        str(capture),
        display_filter=DISPLAY_FILTER,
        keep_packets=False,
        tshark_path=tshark,
    )
    try:
        cap.apply_on_packets(on_packet, timeout=timeout)
    finally:
        try:
            cap.close()
        except Exception as exc:  # noqa: BLE001 - cleanup must not hide the real outcome
            log.debug("pyshark close: %r", exc)
    return out


OPENING_SEGMENTS = 4  # data segments per connection side handed to tshark (a ClientHello may take 2-3)


def _opening_segments(
    capture: str | Path, segments: pl.DataFrame, tmp: Path, hello_frames: np.ndarray | None = None
) -> tuple[Path | None, np.ndarray | None]:
    """A small capture of each connection side's first data segments, and its frame numbers
    (no capture when none of them can carry a label).

    Hellos and request lines open a connection, so tshark need not dissect the rest: on a
    1.2-million-packet capture this turns minutes of dissection into tshark's start-up time.
    Falls back to the whole capture (None) when the file's records cannot be copied (a
    link type only tshark decodes). `hello_frames` (from `Decoded`) answers "any hello?"
    without decoding the capture a second time.
    """
    from tcpscope.decode import decode_layers, opens_like_hello
    from tcpscope.filtering import capture_bytes

    firsts = (
        segments.select("frame", "len", "flow_id", "from_client")  # narrow first: no copy of the rest
        .filter(pl.col("len") > 0)
        .group_by("flow_id", "from_client")
        .head(OPENING_SEGMENTS)
        .select(pl.col("frame").cast(pl.Int64))
        .unique()
        .sort("frame")["frame"]
        .to_numpy()
    )
    if hello_frames is not None and not np.isin(firsts, hello_frames).any():
        return None, firsts  # no hello, no request line: nothing for tshark to find
    try:
        lay = decode_layers(capture)
        rows = firsts - 1
        if hello_frames is None and not opens_like_hello(lay, rows).any():
            return None, firsts  # (with hello_frames this was answered above)
        data, fmt = capture_bytes(lay, rows)
    except Exception as exc:  # noqa: BLE001 - any problem: let tshark read the whole file
        log.debug("labels: whole capture to tshark (%r)", exc)
        return Path(capture), None
    small = tmp / f"opening.{fmt}"
    data.tofile(small)
    return small, firsts


def flow_labels(
    capture: str | Path,
    segments: pl.DataFrame,
    *,
    tshark: str | None = None,
    timeout: float | None = None,
    warnings: list[str] | None = None,
    hello_frames: np.ndarray | None = None,
) -> pl.DataFrame:
    """Per-flow_id labels of a capture (one row per labelled connection; LABEL_COLUMNS).

    A problem (no tshark, tshark failure or timeout, no pyshark) gives an empty frame and
    one message appended to `warnings` (and logged)."""

    def warn(message: str) -> pl.DataFrame:
        log.warning("%s", message)
        if warnings is not None:
            warnings.append(message)
        return empty_labels()

    if segments.is_empty() or "frame" not in segments.columns:
        return empty_labels()
    if timeout is None:
        timeout = float(os.environ.get("TCPSCOPE_TSHARK_TIMEOUT", DEFAULT_TIMEOUT))
    path = find_tshark(tshark)
    if path is None:
        return warn(
            "labels: tshark not found (install tshark for TLS SNI/ALPN and HTTP host labels); "
            "sni, alpn, tls_version, http_host, http_request are empty"
        )
    try:
        with tempfile.TemporaryDirectory(prefix="tcpscope-labels-") as tmp:
            small, frames = _opening_segments(capture, segments, Path(tmp), hello_frames)
            hellos = read_hellos(small, path, timeout) if small is not None else []
        if frames is not None:  # frame numbers of the small capture -> the capture's own
            hellos = [(int(frames[f - 1]), kind, lab) for f, kind, lab in hellos if 0 < f <= frames.shape[0]]
    except ImportError as exc:
        return warn(f"labels: pyshark is not installed ({exc}); labels are empty")
    except (TimeoutError, subprocess.TimeoutExpired):
        return warn(f"labels: tshark took longer than {timeout:g} s on {capture}; labels are empty")
    except Exception as exc:  # noqa: BLE001 - any tshark/pyshark failure is only a warning
        text = " ".join(str(exc).split())[:300] or type(exc).__name__
        return warn(f"labels: tshark failed on {capture} ({text}); labels are empty")
    if not hellos:
        return empty_labels()

    rows = pl.DataFrame(
        {
            "frame": [h[0] for h in hellos],
            "kind": [h[1] for h in hellos],
            **{c: [h[2].get(c) for h in hellos] for c in LABEL_COLUMNS},
        },
        schema={"frame": pl.UInt32, "kind": pl.Utf8, **LABEL_SCHEMA},
    )
    frames = segments.select(pl.col("frame").cast(pl.UInt32), pl.col("flow_id").cast(pl.UInt32))
    rows = rows.join(frames, on="frame", how="inner").sort("frame")
    client = rows.filter(pl.col("kind") == "client").group_by("flow_id").agg(
        pl.col("sni").drop_nulls().first(),
        pl.col("alpn").drop_nulls().first(),
        pl.col("tls_version").drop_nulls().first().alias("_offered"),
    )
    server = rows.filter(pl.col("kind") == "server").group_by("flow_id").agg(
        pl.col("tls_version").drop_nulls().first().alias("_chosen")
    )
    http = rows.filter(pl.col("kind") == "http").group_by("flow_id").agg(
        pl.col("http_host").drop_nulls().first(), pl.col("http_request").drop_nulls().first()
    )
    ids = rows.select("flow_id").unique()
    out = (
        ids.join(client, on="flow_id", how="left")
        .join(server, on="flow_id", how="left")
        .join(http, on="flow_id", how="left")
        .with_columns(tls_version=pl.coalesce("_chosen", "_offered"))
    )
    return out.select("flow_id", *LABEL_COLUMNS).cast(LABEL_SCHEMA).sort("flow_id")


def join_labels(flows: pl.DataFrame, labels: pl.DataFrame) -> pl.DataFrame:
    """flows with LABEL_COLUMNS added (null for connections without labels)."""
    flows = flows.drop([c for c in LABEL_COLUMNS if c in flows.columns])
    if flows.is_empty():
        return flows.with_columns(pl.lit(None, t).alias(c) for c, t in LABEL_SCHEMA.items())
    labels = labels.with_columns(pl.col("flow_id").cast(flows.schema["flow_id"]))
    return flows.join(labels, on="flow_id", how="left", maintain_order="left")


def _host_only(name: str) -> str:
    """A host name for matching: lower case, without a port (`Host: a.b:8080`) or final dot."""
    name = name.strip().lower()
    if name.startswith("["):  # [v6 literal]:port
        name = name[1:].split("]", 1)[0]
    elif name.count(":") == 1:
        name = name.split(":", 1)[0]
    return name.rstrip(".")


def host_matches(pattern: str, name: str | None) -> bool:
    """Does a host name (SNI or HTTP Host) match a glob pattern (`*.qpic.cn`, case-insensitive)?"""
    if not name:
        return False
    return fnmatch.fnmatchcase(_host_only(name), pattern.strip().lower().rstrip("."))


def match_host(flows: pl.DataFrame, pattern: str | None) -> pl.DataFrame:
    """Restrict `matched` to the connections whose `sni` or `http_host` matches `pattern`.

    `matched` already holds the device, server and port tests (flowstats); the host pattern
    is one more condition. Without a pattern flows are returned unchanged."""
    if not pattern or flows.is_empty():
        return flows
    names = flows.select(
        pl.col("sni") if "sni" in flows.columns else pl.lit(None, pl.Utf8).alias("sni"),
        pl.col("http_host") if "http_host" in flows.columns else pl.lit(None, pl.Utf8).alias("http_host"),
    )
    hit = [
        host_matches(pattern, sni) or host_matches(pattern, host)
        for sni, host in names.iter_rows()
    ]
    return flows.with_columns(
        matched=pl.col("matched").cast(pl.Boolean).fill_null(True) & pl.Series(hit, dtype=pl.Boolean)
    )
