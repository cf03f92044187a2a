"""A headless browser that stops answering fails the render after a timeout (and is retried
once by write_pngs) instead of hanging the workflow job."""

from __future__ import annotations

import asyncio
from pathlib import Path

import plotly.graph_objects as go
import pytest

from tcpscope.figures import output

class _Stuck:
    """Stands in for kaleido.Kaleido: opens, then never finishes writing."""

    calls = 0

    def __init__(self, **_: object) -> None:
        pass

    async def __aenter__(self) -> "_Stuck":
        return self

    async def __aexit__(self, *_: object) -> None:
        return None

    async def write_fig_from_object(self, specs: list[dict], **_: object) -> None:
        type(self).calls += 1
        if type(self).calls == 1:
            await asyncio.sleep(3600)  # the first browser hangs
        for spec in specs:  # the second one works
            Path(spec["path"]).write_bytes(b"\x89PNG fake")

def test_render_times_out_instead_of_hanging(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    _Stuck.calls = 0
    monkeypatch.setattr(output.kaleido, "Kaleido", _Stuck)
    r = output.PngRenderer()
    with pytest.raises(output.RenderTimeout):
        r.render([go.Figure(layout={"width": 100, "height": 80})], [tmp_path / "a.png"], timeout=1.0)

def test_write_pngs_retries_once_with_a_new_browser(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    _Stuck.calls = 0
    monkeypatch.setattr(output.kaleido, "Kaleido", _Stuck)
    monkeypatch.setattr(output, "RENDER_TIMEOUT_S", 1.0)
    monkeypatch.setattr(output.PngRenderer.render, "__defaults__", (1.0,))
    out = tmp_path / "b.png"
    output.write_pngs([go.Figure(layout={"width": 100, "height": 80})], [out])
    assert out.read_bytes().startswith(b"\x89PNG") and _Stuck.calls == 2

def test_capture_figures_retry_a_hung_browser(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The workflow's path (render_capture_figures) gets the same retry as write_pngs."""

    from tcpscope.analysis import analyze
    from tcpscope.decode import decode_capture
    from tcpscope.figures import figure_names, render_capture_figures

    pcap = Path(__file__).resolve().parents[1] / "pcap" / "send_text.pcap"
    if not pcap.is_file():
        pytest.skip("bundled capture pcap/send_text.pcap not present")
    _Stuck.calls = 0
    monkeypatch.setattr(output.kaleido, "Kaleido", _Stuck)
    monkeypatch.setattr(output, "RENDER_TIMEOUT_S", 1.0)
    a = analyze(decode_capture(pcap).packets, device="192.168.2.2")
    written = render_capture_figures(a.segments, a.flows, tmp_path, "send_text", stalls=None)
    assert _Stuck.calls == 2
    for name in figure_names():
        assert (tmp_path / f"{name}.png").read_bytes().startswith(b"\x89PNG")
        assert (tmp_path / f"{name}.html") in written
