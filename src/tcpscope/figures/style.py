"""Fixed colours, marker symbols, sizes and text helpers shared by all figures."""

from __future__ import annotations

import html
from collections.abc import Sequence

from tcpscope.classes import CLASS_NAMES

# Okabe-Ito palette (colour-blind safe); each class also gets its own marker symbol so the
# figure still reads in grey scale.
CLASS_ORDER: tuple[str, ...] = CLASS_NAMES  # the classifier's order (tcpstate)
CLASS_COLOUR: dict[str, str] = {
    "new": "#0072B2",
    "retransmission": "#D55E00",
    "spurious_retransmission": "#CC79A7",
    "reordered": "#E69F00",
    "network_duplicate": "#56B4E9",
    "keepalive": "#7F7F7F",
    "window_probe": "#000000",
}
CLASS_SYMBOL: dict[str, str] = {
    "new": "line-ew",
    "retransmission": "x-thin-open",
    "spurious_retransmission": "diamond-open",
    "reordered": "triangle-up-open",
    "network_duplicate": "square-open",
    "keepalive": "circle-open",
    "window_probe": "star-open",
}
CLASS_LABEL: dict[str, str] = {
    "new": "new data",
    "retransmission": "retransmission",
    "spurious_retransmission": "spurious retransmission",
    "reordered": "reordered",
    "network_duplicate": "network duplicate",
    "keepalive": "keepalive",
    "window_probe": "window probe",
}
ACK_COLOUR = "#009E73"
RWND_COLOUR = "#B59A00"
INFLIGHT_COLOUR = "#0072B2"

# Sizes. PNG width is fixed; height grows with the flow rows. A row is ROW_PLOT_PX tall for a
# direction carrying >= SMALL_SHARE of the largest direction's bytes, SMALL_ROW of that otherwise.
PNG_WIDTH = 1600
ROW_PLOT_PX = 210
ROW_GAP = 80  # pixels between rows: x tick labels of the row above + the row's title
SMALL_SHARE = 0.05
SMALL_ROW = 0.5
MARGIN_TOP = 110
MARGIN_BOTTOM = 70
MIN_HEIGHT = 520
MAX_ROWS = 10

FONT = "DejaVu Sans, Arial, sans-serif"


def row_weights(row_bytes: Sequence[int]) -> list[float]:
    """Relative row heights: 1 for big directions, SMALL_ROW for ones under SMALL_SHARE of the largest."""
    top = max(row_bytes, default=0)
    return [1.0 if b >= SMALL_SHARE * top else SMALL_ROW for b in row_bytes]


def figure_height(weights: Sequence[float]) -> int:
    """Pixel height of a figure with rows of these weights (also the PNG height at scale 1)."""
    rows = sum(ROW_PLOT_PX * w for w in weights) + ROW_GAP * max(len(weights) - 1, 0)
    return max(MIN_HEIGHT, int(round(MARGIN_TOP + MARGIN_BOTTOM + rows)))


def esc(text: object) -> str:
    """Escape capture-derived text for plotly's pseudo-HTML labels and for HTML pages."""
    return html.escape(str(text), quote=True)
