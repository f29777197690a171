"""The reports' charts (matplotlib, Agg): each chart as SVG (PDF, HTML) and, on request, PNG (DOCX).

A chart draws only the values a report may show: a suppressed count (`v` None) gets no bar,
only its text ("<5"), so a publication chart never reveals what its table hides.

Speed (one report in under 3 s): a chart is a bare `Figure` on the Agg canvas (no pyplot
figure manager), laid out once by hand from the labels' widths (read from the font with
FreeType, cached) instead of the constrained-layout engine, which measured every text on every
save; each chart is drawn once per format it is needed in (SVG, and PNG only for DOCX).
"""

from __future__ import annotations

import io
import math
from functools import lru_cache

import matplotlib

matplotlib.use("Agg")

from matplotlib import font_manager, ft2font  # noqa: E402
from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

matplotlib.rcParams.update(
    {
        "font.family": "DejaVu Sans",
        "font.size": 8,
        "axes.spines.top": False,
        "axes.spines.right": False,
        "svg.fonttype": "path",
        "svg.hashsalt": "finsam",  # the same figures give the same bytes
    }
)
COLOURS = ("#1f5f8b", "#d08c2c", "#6a9a3b", "#8c4a7d", "#5b6770")
WIDTH = 6.2  # inches
TITLE_SPACE = 0.32  # inches above the axes for the bold title
TICK_SPACE = 0.08  # inches between an axis and its tick labels (tick length and pad)
PNG_DPI = 150


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


def _figure(height: float) -> tuple[Figure, object]:
    fig = Figure(figsize=(WIDTH, height))
    FigureCanvasAgg(fig)
    return fig, fig.add_subplot()


def _place(fig: Figure, height: float, left: float, bottom: float, right: float = 0.08, extra_top: float = 0) -> None:
    """The axes' position from margins in inches (the title above it)."""
    fig.subplots_adjust(
        left=min(left, WIDTH * 0.6) / WIDTH,
        right=1 - right / WIDTH,
        bottom=min(bottom, height * 0.6) / height,
        top=1 - (TITLE_SPACE + extra_top) / height,
    )


def _rotated_margins(labels: list[str], degrees: float) -> tuple[float, float]:
    """Left and bottom margins (inches) for x tick labels rotated and aligned right."""
    if not labels:
        return 0.1, 0.3
    rad = math.radians(degrees)
    widths = [text_width(label) for label in labels]
    left = widths[0] * math.cos(rad) + 0.05
    bottom = max(widths) * math.sin(rad) + 0.14 * math.cos(rad) + TICK_SPACE + 0.04
    return max(left, 0.1), bottom


def _output(fig: Figure, png: bool) -> dict:
    svg = io.StringIO()
    fig.savefig(svg, format="svg", metadata={"Date": None})
    out = {"svg": svg.getvalue(), "png": None}
    if png:
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=PNG_DPI)
        out["png"] = buf.getvalue()
    return out


def bars(items: list[dict], title: str, horizontal: bool = False, png: bool = False, unit: str = "") -> dict:
    """items: [{"label", "cell": {"v", "t"}}]; one bar per item, its text at the bar's end."""
    labels = [i["label"] for i in items]
    values = [i["cell"]["v"] or 0 for i in items]
    height = max(1.4, 0.26 * len(items) + 0.6) if horizontal else 2.0
    fig, ax = _figure(height)
    top = max(values + [1])
    if horizontal:
        positions = range(len(items))[::-1]
        ax.barh(list(positions), values, color=COLOURS[0], height=0.6)
        ax.set_yticks(list(positions), labels)
        for pos, item, value in zip(positions, items, values):
            ax.text(value + top * 0.01, pos, item["cell"]["t"] + unit, va="center", fontsize=7.5)
        ax.set_xlim(0, top * 1.15)
        ax.xaxis.set_visible(False)
        ax.spines["bottom"].set_visible(False)
        left = max([text_width(label) for label in labels] + [0.1]) + TICK_SPACE + 0.05
        _place(fig, height, left=left, bottom=0.08)
    else:
        rotated = len(items) >= 8
        ax.bar(range(len(items)), values, color=COLOURS[0], width=0.6)
        ax.set_xticks(range(len(items)), labels, rotation=30 if rotated else 0, ha="right" if rotated else "center")
        for pos, item, value in zip(range(len(items)), items, values):
            ax.text(pos, value + top * 0.02, item["cell"]["t"] + unit, ha="center", fontsize=7.5)
        ax.set_ylim(0, top * 1.18)
        ax.yaxis.set_visible(False)
        ax.spines["left"].set_visible(False)
        if rotated:
            left, bottom = _rotated_margins(labels, 30)
        else:
            slot = (WIDTH - 0.2) / max(len(items), 1)
            left = max(0.1, text_width(labels[0]) / 2 - slot / 2 + 0.1) if labels else 0.1
            bottom = 0.14 + TICK_SPACE + 0.08
        _place(fig, height, left=left, bottom=bottom)
    ax.set_title(title, loc="left", fontsize=9, fontweight="bold")
    return _output(fig, png)


def grouped_bars(groups: list[str], series: list[dict], title: str, png: bool = False) -> dict:
    """series: [{"label", "cells": [cell per group]}]: e.g. support at start and at exit side by side."""
    height = 2.4
    fig, ax = _figure(height)
    width = 0.8 / max(len(series), 1)
    top = max([c["v"] or 0 for s in series for c in s["cells"]] + [1])
    for n, s in enumerate(series):
        xs = [g + (n - (len(series) - 1) / 2) * width for g in range(len(groups))]
        values = [c["v"] or 0 for c in s["cells"]]
        ax.bar(xs, values, width=width * 0.95, color=COLOURS[n % len(COLOURS)], label=s["label"])
        for x, c, value in zip(xs, s["cells"], values):
            if c["t"] not in ("0", "–"):
                ax.text(x, value + top * 0.02, c["t"], ha="center", fontsize=6.5)
    ax.set_xticks(range(len(groups)), groups, rotation=25, ha="right")
    ax.set_ylim(0, top * 1.2)
    ax.yaxis.set_visible(False)
    ax.spines["left"].set_visible(False)
    # the legend above the axes, never over a bar: right of the title, or under it when both do not fit
    ax.legend(frameon=False, fontsize=7, loc="lower right", bbox_to_anchor=(1, 1), ncols=len(series), borderaxespad=0.2)
    left, bottom = _rotated_margins(groups, 25)
    legend = sum(text_width(s["label"], 7) + 0.45 for s in series)
    fits = text_width(title, 9) * 1.12 + legend + 0.2 < WIDTH - left - 0.08
    ax.set_title(title, loc="left", fontsize=9, fontweight="bold", pad=6 if fits else 20)
    _place(fig, height, left=left, bottom=bottom, extra_top=0 if fits else 0.2)
    return _output(fig, png)
