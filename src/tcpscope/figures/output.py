"""Write figures: self-contained offline HTML and all PNGs of a capture in one kaleido call."""

from __future__ import annotations

import asyncio
import logging
import os
import queue
import threading
from pathlib import Path

import kaleido
import plotly.graph_objects as go
import plotly.io as pio

from tcpscope.figures.style import esc

HTML_CONFIG = {"displaylogo": False, "scrollZoom": True, "responsive": True}

PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{title}</title>
<style>body{{margin:0;font-family:DejaVu Sans,Arial,sans-serif}}</style>
</head>
<body>
{div}
</body>
</html>
"""


log = logging.getLogger(__name__)

def tmp_path(final: Path) -> Path:
    """Hidden temporary sibling of final with the same suffix (renamed over final on success)."""
    return final.with_name(f".{final.stem}.{os.getpid()}.tmp{final.suffix}")


def html_page(fig: go.Figure, name: str, page_title: str) -> str:
    """Full offline HTML page: plotly.js inlined, page title escaped."""
    spec = fig.to_dict()  # a plain copy: go.Figure(fig) would validate every property again
    spec["layout"].pop("width", None)
    spec["layout"]["autosize"] = True
    div = pio.to_html(
        spec,
        include_plotlyjs=True,
        full_html=False,
        config={**HTML_CONFIG, "toImageButtonOptions": {"format": "png", "filename": name}},
        default_width="100%",
        default_height=f"{spec['layout'].get('height')}px",
        validate=False,
    )
    return PAGE.format(title=esc(page_title), div=div)


def write_html(fig: go.Figure, path: Path, name: str, page_title: str) -> None:
    """Write one HTML page to path."""
    path.write_text(html_page(fig, name, page_title), encoding="utf-8")


def png_specs(figs: list[go.Figure], paths: list[Path]) -> list[dict]:
    """kaleido write specs: one PNG per figure at the figure's own pixel size, scale 1."""
    return [
        {
            "fig": f,
            "path": p,
            "opts": {
                "format": "png",
                "width": int(f.layout.width),
                "height": int(f.layout.height),
                "scale": 1,
            },
        }
        for f, p in zip(figs, paths, strict=True)
    ]


RENDER_TIMEOUT_S = 60.0  # a 1.5M-packet capture renders in ~5 s; a hung browser is retried sooner


class RenderTimeout(RuntimeError):
    """The headless browser did not answer in time."""


def _kill_browsers() -> None:
    """Kill the Chromium processes this process started (kaleido's), so a stuck one cannot linger."""
    import psutil

    for child in psutil.Process().children(recursive=True):
        try:
            if "chrom" in child.name().lower():
                child.kill()
        except psutil.Error:
            pass


class PngRenderer:
    """One headless Chromium (kaleido) started in a background thread at construction, so the
    browser start overlaps with building the figures; render() writes every PNG in one call.
    Start-up failures surface as exceptions from render(), never as a hang."""

    def __init__(self) -> None:
        """Start the browser in the background."""
        self._inbox: queue.Queue[list[dict] | None] = queue.Queue(maxsize=1)
        self._outbox: queue.Queue[BaseException | None] = queue.Queue(maxsize=1)
        self._used = False
        self._thread = threading.Thread(
            target=asyncio.run, args=(self._main(),), daemon=True, name="tcpscope-kaleido"
        )
        self._thread.start()

    async def _main(self) -> None:
        """Open kaleido (mathjax off: no CDN fetch), wait for specs, render them, close."""
        try:
            async with kaleido.Kaleido(mathjax=False) as k:
                specs = await asyncio.to_thread(self._inbox.get)
                if specs is not None:
                    await k.write_fig_from_object(specs, cancel_on_error=True)
        except BaseException as exc:  # noqa: BLE001 - handed to the caller's thread
            self._outbox.put(exc)
            return
        self._outbox.put(None)

    def render(self, figs: list[go.Figure], paths: list[Path], timeout: float = RENDER_TIMEOUT_S) -> None:
        """Write all figures as PNG to paths with the one browser; raise on any failure.

        A browser that stops answering (seen rarely: a tab that never finishes loading) is
        killed after `timeout` seconds and RenderTimeout raised, instead of hanging the job."""
        if self._used:
            raise RuntimeError("PngRenderer.render() can only be called once")
        self._used = True
        self._inbox.put(png_specs(figs, paths))
        try:
            err = self._outbox.get(timeout=timeout)
        except queue.Empty:
            _kill_browsers()
            raise RenderTimeout(f"kaleido gave no answer in {timeout:g} s; browser killed") from None
        self._thread.join()
        if err is not None:
            raise RuntimeError(f"kaleido could not write PNGs: {err!r}") from err
        missing = [str(p) for p in paths if not p.is_file() or p.stat().st_size == 0]
        if missing:
            raise RuntimeError(f"kaleido did not write {missing}")

    def close(self) -> None:
        """Shut the browser down if render() was not called (e.g. after an error)."""
        if not self._used:
            self._used = True
            self._inbox.put(None)
            self._thread.join(timeout=60)

    def __enter__(self) -> PngRenderer:
        """Context manager entry."""
        return self

    def __exit__(self, *exc: object) -> None:
        """Context manager exit: close()."""
        self.close()


def write_pngs(figs: list[go.Figure], paths: list[Path], renderer: PngRenderer | None = None) -> None:
    """Render all figures to PNG in ONE kaleido call (one browser start); one retry with a
    fresh browser if the first stops answering (kaleido hangs at random, rarely: its issues
    #42, #110, #134). `renderer`, when given, is a browser already starting (it is used, and
    closed, here)."""
    first = renderer if renderer is not None else PngRenderer()
    try:
        with first as r:
            r.render(figs, paths, timeout=RENDER_TIMEOUT_S)
    except RenderTimeout as exc:
        log.warning("%s; retrying once with a new browser", exc)
        with PngRenderer() as r:
            r.render(figs, paths, timeout=RENDER_TIMEOUT_S)
