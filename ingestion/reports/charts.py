"""The reports' charts (matplotlib): each chart drawn once, as SVG, for all three formats: the PDF
and the HTML take the SVG as it is; the DOCX takes PNGs that Typst rasterises from the same SVGs,
all of a report's charts in one compile (`png_images`).

A chart draws only the values a report may show: a suppressed count (`v` None) gets no bar,
only its text ("<5"), so a publication chart never reveals what its table hides.

Speed (one report in under 3 s, a period's reports for 600 interventions in under 2 minutes): a
chart is a bare `Figure` (no pyplot figure manager, no Axes: `_Chart`), laid out once by hand from
the labels' widths (read from the font with FreeType, cached) instead of the constrained-layout
engine, which measured every text on every save. The SVG keeps its text as text (`svg.fonttype:
none`): writing each glyph as a path took most of a chart's time; Typst sets the text with the same
DejaVu Sans the layout measured (the PDF's chart labels are real text), and a browser without it
falls back to a sans-serif of similar widths.
"""

from __future__ import annotations

import io
import json
import math
from functools import lru_cache
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

from matplotlib import font_manager, ft2font  # noqa: E402
from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.markers import TICKDOWN, TICKLEFT  # noqa: E402
from matplotlib.patches import Rectangle  # noqa: E402
from matplotlib.transforms import (  # noqa: E402
    Bbox,
    BboxTransformFrom,
    BboxTransformTo,
    ScaledTranslation,
    TransformedBbox,
    blended_transform_factory,
)

from ingestion.core.config import REPO_ROOT  # noqa: E402

matplotlib.rcParams.update(
    {
        "font.family": "DejaVu Sans",
        "font.size": 8,
        "svg.fonttype": "none",
        "svg.hashsalt": "finsam",  # the same figures give the same bytes
    }
)
COLOURS = ("#1f5f8b", "#d08c2c", "#6a9a3b", "#8c4a7d", "#5b6770")
WIDTH = 6.2  # inches
TITLE_SPACE = 0.32  # inches above the axes for the bold title
TICK_SPACE = 0.08  # inches between an axis and its tick labels (tick length and pad), for the margins
TICK_LENGTH = 3.5  # points: matplotlib's default major tick
TICK_WIDTH = 0.8
TICK_PAD = 3.5  # points between a tick mark and its label
SPINE_WIDTH = 0.8
TITLE_PAD = 6  # points between the plot area and the title's baseline
MARGIN = 0.05  # of the data's span on each side, along the bars' axis (matplotlib's default)
PNG_DPI = 150
PNG_TEMPLATE = REPO_ROOT / "templates" / "reports" / "charts.typ"
# the SVG names the font matplotlib measured with; a browser without it takes one of similar widths
SVG_FONT = "font-family: 'DejaVu Sans'"
SVG_FONT_FALLBACK = "font-family: 'DejaVu Sans', Verdana, 'Bitstream Vera Sans', sans-serif"


@lru_cache(maxsize=1)
def _font() -> ft2font.FT2Font:
    return ft2font.FT2Font(font_manager.findfont(font_manager.FontProperties(family="DejaVu Sans")))


@lru_cache(maxsize=4096)
def text_width(text: str, size: float = 8.0) -> float:
    """The width of `text` in inches at `size` points (the font's own advance widths)."""
    font = _font()
    font.set_size(size, 72)
    font.set_text(text, 0.0)
    return font.get_width_height()[0] / 64 / 72


class _Chart:
    """A chart on a bare Figure, without matplotlib's Axes: the plot area is a rectangle placed by
    hand (margins in inches), data coordinates map onto it through one transform, and bars, texts,
    tick marks and tick labels are plain artists on the figure. An Axes builds its tick machinery
    (two axes, tick objects, locators, their layout) for every chart, which was most of a chart's
    time; what it drew here is a few rectangles and texts."""

    def __init__(self, height: float, left: float, bottom: float, right: float = 0.08, extra_top: float = 0):
        self.fig = Figure(figsize=(WIDTH, height))
        FigureCanvasAgg(self.fig)
        x0 = min(left, WIDTH * 0.6) / WIDTH
        y0 = min(bottom, height * 0.6) / height
        x1 = 1 - right / WIDTH
        y1 = 1 - (TITLE_SPACE + extra_top) / height
        self.area = (x0, y0, x1, y1)  # figure fractions
        self.area_transform = BboxTransformTo(TransformedBbox(Bbox([[x0, y0], [x1, y1]]), self.fig.transFigure))
        self.data = self.area_transform

    def limits(self, xlim: tuple[float, float], ylim: tuple[float, float]) -> None:
        self.data = BboxTransformFrom(Bbox([[xlim[0], ylim[0]], [xlim[1], ylim[1]]])) + self.area_transform

    def _offset(self, dx_points: float, dy_points: float):
        return ScaledTranslation(dx_points / 72, dy_points / 72, self.fig.dpi_scale_trans)

    def bar(self, x: float, y: float, width: float, height: float, colour: str) -> None:
        self.fig.add_artist(Rectangle((x, y), width, height, facecolor=colour, edgecolor="none", transform=self.data))

    def text(self, x: float, y: float, text: str, **kw) -> None:
        self.fig.text(x, y, text, transform=self.data, **kw)

    def spine(self, side: str) -> None:
        x0, y0, x1, y1 = self.area
        xs, ys = ((x0, x1), (y0, y0)) if side == "bottom" else ((x0, x0), (y0, y1))
        line = Line2D(xs, ys, color="black", linewidth=SPINE_WIDTH, transform=self.fig.transFigure)
        line.set_solid_capstyle("projecting")
        self.fig.add_artist(line)

    def x_ticks(self, positions: list[float], labels: list[str], rotation: float = 0, ha: str = "center") -> None:
        """Tick marks under the bottom edge and their labels, where matplotlib's x axis puts them."""
        along = blended_transform_factory(self.data, self.area_transform)
        marks = Line2D(positions, [0] * len(positions), linestyle="none", marker=TICKDOWN, color="black")
        marks.set(markersize=TICK_LENGTH, markeredgewidth=TICK_WIDTH, transform=along, clip_on=False)
        self.fig.add_artist(marks)
        at = along + self._offset(0, -(TICK_LENGTH + TICK_PAD))
        for x, label in zip(positions, labels):
            self.fig.text(x, 0, label, transform=at, rotation=rotation, ha=ha, va="top")

    def y_ticks(self, positions: list[float], labels: list[str]) -> None:
        """Tick marks left of the left edge and their labels, where matplotlib's y axis puts them."""
        along = blended_transform_factory(self.area_transform, self.data)
        marks = Line2D([0] * len(positions), positions, linestyle="none", marker=TICKLEFT, color="black")
        marks.set(markersize=TICK_LENGTH, markeredgewidth=TICK_WIDTH, transform=along, clip_on=False)
        self.fig.add_artist(marks)
        at = along + self._offset(-(TICK_LENGTH + TICK_PAD), 0)
        for y, label in zip(positions, labels):
            self.fig.text(0, y, label, transform=at, ha="right", va="center_baseline")

    def title(self, title: str, pad: float = TITLE_PAD) -> None:
        x0, _, _, y1 = self.area
        at = self.fig.transFigure + self._offset(0, pad)
        self.fig.text(x0, y1, title, transform=at, fontsize=9, fontweight="bold", ha="left", va="baseline")

    def legend(self, entries: list[tuple[str, str]]) -> None:
        """Above the plot area's right end (as `ax.legend(loc="lower right", bbox_to_anchor=(1, 1))`)."""
        _, _, x1, y1 = self.area
        handles = [Rectangle((0, 0), 1, 1, facecolor=colour, edgecolor="none") for _, colour in entries]
        self.fig.legend(
            handles,
            [label for label, _ in entries],
            frameon=False,
            fontsize=7,
            loc="lower right",
            bbox_to_anchor=(x1, y1),
            ncols=len(entries),
            borderaxespad=0.2,
        )


def _span(lo: float, hi: float, margin: float = MARGIN) -> tuple[float, float]:
    """matplotlib's default view of data from lo to hi: 5 % of the span added on each side."""
    pad = (hi - lo) * margin
    return lo - pad, hi + pad


def _rotated_margins(labels: list[str], degrees: float) -> tuple[float, float]:
    """Left and bottom margins (inches) for x tick labels rotated and aligned right."""
    if not labels:
        return 0.1, 0.3
    rad = math.radians(degrees)
    widths = [text_width(label) for label in labels]
    left = widths[0] * math.cos(rad) + 0.05
    bottom = max(widths) * math.sin(rad) + 0.14 * math.cos(rad) + TICK_SPACE + 0.04
    return max(left, 0.1), bottom


def _output(fig: Figure) -> dict:
    svg = io.StringIO()
    fig.savefig(svg, format="svg", metadata={"Date": None})
    return {"svg": svg.getvalue().replace(SVG_FONT, SVG_FONT_FALLBACK)}


def font_dir() -> str:
    """The folder of matplotlib's DejaVu Sans: Typst sets the charts' text with the font it was
    measured with, whatever fonts the machine has."""
    return str(Path(font_manager.findfont(font_manager.FontProperties(family="DejaVu Sans"))).parent)


@lru_cache(maxsize=1)
def _png_compiler():
    import typst

    return typst.Compiler(str(PNG_TEMPLATE), font_paths=[font_dir()])


def png_images(svgs: list[str]) -> list[bytes]:
    """The charts as PNG (PNG_DPI, the SVG's own size), one Typst compile for all of them: one page
    per chart (templates/reports/charts.typ)."""
    if not svgs:
        return []
    out = _png_compiler().compile(format="png", ppi=PNG_DPI, sys_inputs={"svgs": json.dumps(svgs)})
    return out if isinstance(out, list) else [out]


def bars(items: list[dict], title: str, horizontal: bool = False, unit: str = "") -> dict:
    """items: [{"label", "cell": {"v", "t"}}]; one bar per item, its text at the bar's end."""
    labels = [i["label"] for i in items]
    values = [i["cell"]["v"] or 0 for i in items]
    top = max(values + [1])
    n = len(items)
    if horizontal:
        height = max(1.4, 0.26 * n + 0.6)
        left = max([text_width(label) for label in labels] + [0.1]) + TICK_SPACE + 0.05
        chart = _Chart(height, left=left, bottom=0.08)
        chart.limits((0, top * 1.15), _span(-0.3, n - 1 + 0.3))
        positions = list(range(n))[::-1]  # the first item at the top
        for pos, item, value in zip(positions, items, values):
            chart.bar(0, pos - 0.3, value, 0.6, COLOURS[0])
            chart.text(value + top * 0.01, pos, item["cell"]["t"] + unit, va="center", fontsize=7.5)
        chart.spine("left")
        chart.y_ticks(positions, labels)
    else:
        rotated = n >= 8
        if rotated:
            left, bottom = _rotated_margins(labels, 30)
        else:
            slot = (WIDTH - 0.2) / max(n, 1)
            left = max(0.1, text_width(labels[0]) / 2 - slot / 2 + 0.1) if labels else 0.1
            bottom = 0.14 + TICK_SPACE + 0.08
        chart = _Chart(2.0, left=left, bottom=bottom)
        chart.limits(_span(-0.3, n - 1 + 0.3), (0, top * 1.18))
        for pos, item, value in zip(range(n), items, values):
            chart.bar(pos - 0.3, 0, 0.6, value, COLOURS[0])
            chart.text(pos, value + top * 0.02, item["cell"]["t"] + unit, ha="center", fontsize=7.5)
        chart.spine("bottom")
        chart.x_ticks(list(range(n)), labels, rotation=30 if rotated else 0, ha="right" if rotated else "center")
    chart.title(title)
    return _output(chart.fig)


def grouped_bars(groups: list[str], series: list[dict], title: str) -> dict:
    """series: [{"label", "cells": [cell per group]}]: e.g. support at start and at exit side by side.
    Groups whose labels would not fit side by side under the bars (even rotated) get horizontal bars."""
    width = 0.8 / max(len(series), 1)
    top = max([c["v"] or 0 for s in series for c in s["cells"]] + [1])
    slot = (WIDTH - 0.5) / max(len(groups), 1)
    if groups and max(text_width(g) for g in groups) * math.sin(math.radians(25)) > slot:
        return _grouped_bars_horizontal(groups, series, title, width, top)
    left, bottom = _rotated_margins(groups, 25)
    # the legend above the plot, never over a bar: right of the title, or under it when both do not fit
    legend = sum(text_width(s["label"], 7) + 0.45 for s in series)
    fits = text_width(title, 9) * 1.12 + legend + 0.2 < WIDTH - left - 0.08
    chart = _Chart(2.4, left=left, bottom=bottom, extra_top=0 if fits else 0.2)
    offsets = [(n - (len(series) - 1) / 2) * width for n in range(len(series))]
    bar = width * 0.95
    lo = min([0.0, *offsets]) - bar / 2
    hi = max(len(groups) - 1, 0) + max([0.0, *offsets]) + bar / 2
    chart.limits(_span(lo, hi), (0, top * 1.2))
    for n, s in enumerate(series):
        for g, c in enumerate(s["cells"]):
            x, value = g + offsets[n], c["v"] or 0
            chart.bar(x - bar / 2, 0, bar, value, COLOURS[n % len(COLOURS)])
            if c["t"] not in ("0", "–"):
                chart.text(x, value + top * 0.02, c["t"], ha="center", fontsize=6.5)
    chart.spine("bottom")
    chart.x_ticks(list(range(len(groups))), groups, rotation=25, ha="right")
    chart.legend([(s["label"], COLOURS[n % len(COLOURS)]) for n, s in enumerate(series)])
    chart.title(title, pad=TITLE_PAD if fits else 20)
    return _output(chart.fig)


def _grouped_bars_horizontal(groups: list[str], series: list[dict], title: str, width: float, top: float) -> dict:
    """grouped_bars with the groups down the left side (long labels, read without turning the head)."""
    n = len(groups)
    left = max(text_width(g) for g in groups) + TICK_SPACE + 0.05
    legend = sum(text_width(s["label"], 7) + 0.45 for s in series)
    fits = text_width(title, 9) * 1.12 + legend + 0.2 < WIDTH - min(left, WIDTH * 0.6) - 0.08
    chart = _Chart(max(1.6, 0.22 * n * len(series) + 0.7), left=left, bottom=0.08, extra_top=0 if fits else 0.2)
    chart.limits((0, top * 1.15), _span(-0.5, n - 0.5, margin=0.01))
    positions = list(range(n))[::-1]  # the first group at the top
    bar = width * 0.95
    for k, s in enumerate(series):
        for pos, c in zip(positions, s["cells"]):
            y, value = pos + 0.4 - (k + 0.5) * width, c["v"] or 0  # the first series on top in its group
            chart.bar(0, y - bar / 2, value, bar, COLOURS[k % len(COLOURS)])
            if c["t"] not in ("0", "–"):
                chart.text(value + top * 0.01, y, c["t"], va="center", fontsize=6.5)
    chart.spine("left")
    chart.y_ticks(positions, groups)
    chart.legend([(s["label"], COLOURS[k % len(COLOURS)]) for k, s in enumerate(series)])
    chart.title(title, pad=TITLE_PAD if fits else 20)
    return _output(chart.fig)
