"""Check that a figure's text (titles, labels, tick labels, legends) lies on its canvas."""

from __future__ import annotations

import matplotlib.pyplot as plt
from matplotlib.axis import Tick
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.legend import Legend
from matplotlib.text import Text


def outside_canvas(figure: plt.Figure, tolerance: float = 1.0) -> list[str]:
    """What of ``figure`` falls off its canvas: every legend and visible non-empty text
    (titles, axis labels, annotations), then the tight bounding box of the whole figure
    (which holds the tick labels actually drawn), each against ``figure.bbox`` (pixels)."""
    if not hasattr(figure.canvas, "get_renderer"):  # a figure closed by pyplot keeps a bare canvas
        FigureCanvasAgg(figure)
    figure.canvas.draw()
    renderer = figure.canvas.get_renderer()
    canvas = figure.bbox
    problems = []

    def check(name: str, box) -> None:
        if box is None or box.width == 0 and box.height == 0:
            return
        if (box.x0 < canvas.x0 - tolerance or box.y0 < canvas.y0 - tolerance
                or box.x1 > canvas.x1 + tolerance or box.y1 > canvas.y1 + tolerance):
            problems.append(f"{name}: {tuple(round(v) for v in box.extents)} outside {tuple(round(v) for v in canvas.extents)}")

    ticks = {id(text) for tick in figure.findobj(Tick) for text in (tick.label1, tick.label2)}
    for artist in figure.findobj(lambda a: isinstance(a, (Legend, Text)) and id(a) not in ticks):
        if not artist.get_visible() or (isinstance(artist, Text) and not artist.get_text().strip()):
            continue
        if isinstance(artist, Text) and artist.axes is not None and not artist.axes.get_visible():
            continue
        label = f"legend {[t.get_text() for t in artist.get_texts()][:3]}" if isinstance(artist, Legend) else f"text {artist.get_text()!r}"
        check(label, artist.get_window_extent(renderer))
    tight = figure.get_tightbbox(renderer)  # inches
    check("tight bbox", tight.transformed(figure.dpi_scale_trans) if tight is not None else None)
    return problems
