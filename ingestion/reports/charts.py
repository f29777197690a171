"""The reports' charts (matplotlib, Agg): each chart as SVG (PDF, HTML) and, on request, PNG (DOCX).

A chart draws only the values a report may show: a suppressed count (`v` None) gets no bar,
only its text ("<5"), so a publication chart never reveals what its table hides.
"""

from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402

plt.rcParams.update(
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


def _output(fig, png: bool) -> dict:
    svg = io.StringIO()
    fig.savefig(svg, format="svg", metadata={"Date": None})
    out = {"svg": svg.getvalue(), "png": None}
    if png:
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=150)
        out["png"] = buf.getvalue()
    plt.close(fig)
    return out


def bars(items: list[dict], title: str, horizontal: bool = False, png: bool = False, unit: str = "") -> dict:
    """items: [{"label", "cell": {"v", "t"}}]; one bar per item, its text at the bar's end."""
    labels = [i["label"] for i in items]
    values = [i["cell"]["v"] or 0 for i in items]
    height = max(1.4, 0.26 * len(items) + 0.6) if horizontal else 2.0
    fig, ax = plt.subplots(figsize=(6.2, height), layout="constrained")
    if horizontal:
        positions = range(len(items))[::-1]
        ax.barh(list(positions), values, color=COLOURS[0], height=0.6)
        ax.set_yticks(list(positions), labels)
        top = max(values + [1])
        for pos, item, value in zip(positions, items, values):
            ax.text(value + top * 0.01, pos, item["cell"]["t"] + unit, va="center", fontsize=7.5)
        ax.set_xlim(0, top * 1.15)
        ax.xaxis.set_visible(False)
        ax.spines["bottom"].set_visible(False)
    else:
        ax.bar(range(len(items)), values, color=COLOURS[0], width=0.6)
        ax.set_xticks(
            range(len(items)), labels, rotation=0 if len(items) < 8 else 30, ha="center" if len(items) < 8 else "right"
        )
        top = max(values + [1])
        for pos, item, value in zip(range(len(items)), items, values):
            ax.text(pos, value + top * 0.02, item["cell"]["t"] + unit, ha="center", fontsize=7.5)
        ax.set_ylim(0, top * 1.18)
        ax.yaxis.set_visible(False)
        ax.spines["left"].set_visible(False)
    ax.set_title(title, loc="left", fontsize=9, fontweight="bold")
    return _output(fig, png)


def grouped_bars(groups: list[str], series: list[dict], title: str, png: bool = False) -> dict:
    """series: [{"label", "cells": [cell per group]}]: e.g. support at start and at exit side by side."""
    fig, ax = plt.subplots(figsize=(6.2, 2.4), layout="constrained")
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
    ax.legend(frameon=False, fontsize=7, loc="upper right")
    ax.set_title(title, loc="left", fontsize=9, fontweight="bold")
    return _output(fig, png)
