"""LoRA as a block diagram: the frozen W0 path and the trained low-rank path B·A, added at the output.
Box shapes follow the matrix shapes (A is wide and flat, B tall and thin); counts are computed."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from .. import style
from ._common import number

if TYPE_CHECKING:
    from matplotlib.figure import Figure

KIND = "lora"
DATA = {"d": number(integer=True, lo=2, hi=1_000_000), "k": number(integer=True, lo=2, hi=1_000_000),
        "r": number(integer=True, lo=1, hi=4096)}
LABELS = {"x": (), "h": (), "w0": (), "a": (), "b": (), "scale": (), "dims_fmt": ("rows", "cols"),
          "frozen_fmt": ("n",), "trained_fmt": ("n", "pct"), "a_init": (), "b_init": ()}
HEIGHT = 3.1


def check(data: Mapping[str, Any]) -> list[tuple[tuple[str, ...], str]]:
    if data["r"] >= min(data["d"], data["k"]):
        return [(("r",), "data `r` must be smaller than d and k (a low rank) — lower r")]
    return []


def compute(data: Mapping[str, Any]) -> dict[str, Any]:
    d, k, r = int(data["d"]), int(data["k"]), int(data["r"])
    frozen = d * k
    trained = r * (d + k)
    return {"frozen": frozen, "trained": trained, "fraction": trained / frozen}


def draw(fig: Figure, data: Mapping[str, Any], labels: Mapping[str, str]) -> None:
    from matplotlib.patches import Circle
    d, k, r = int(data["d"]), int(data["k"]), int(data["r"])
    counts = compute(data)
    ax = style.diagram_axes(fig, (0, 10), (0, 10 * HEIGHT / style.FIG_WIDTH))
    dims = labels["dims_fmt"]
    # input and output vectors
    style.box(ax, (0.55, 3.4), 0.6, 2.6, labels["x"], bold=True, round_=False)
    style.box(ax, (9.45, 3.4), 0.6, 2.6, labels["h"], bold=True, round_=False)
    # frozen path
    style.box(ax, (3.9, 4.95), 2.7, 1.55, f"{labels['w0']}\n{dims.format(rows=f'{d:,}', cols=f'{k:,}')}",
              fill=style.BLOCKED, round_=False)
    ax.text(3.9, 6.05, labels["frozen_fmt"].format(n=f"{counts['frozen']:,}"),
            ha="center", va="bottom", fontsize=style.FONT_SMALL)
    # trained path: A (r x k) is flat, B (d x r) is tall
    a = style.series(2)
    b = style.series(1)
    style.box(ax, (2.95, 1.75), 1.9, 0.5, labels["a"], fill=a.color, bold=True, round_=False)
    ax.text(2.95, 1.35, dims.format(rows=f"{r:,}", cols=f"{k:,}"), ha="center", va="top", fontsize=style.FONT_SMALL)
    ax.text(2.95, 2.1, labels["a_init"], ha="center", va="bottom", fontsize=style.FONT_SMALL)
    style.box(ax, (5.2, 1.75), 0.5, 1.9, labels["b"], fill=b.color, bold=True, round_=False, text_color="#FFFFFF")
    ax.text(5.2, 2.78, dims.format(rows=f"{d:,}", cols=f"{r:,}"), ha="center", va="bottom",
            fontsize=style.FONT_SMALL)
    ax.text(5.2, 3.22, labels["b_init"], ha="center", va="bottom", fontsize=style.FONT_SMALL)
    pct = counts["fraction"] * 100
    ax.text(4.1, 0.28, labels["trained_fmt"].format(n=f"{counts['trained']:,}", pct=f"{pct:.1f}"),
            ha="center", va="center", fontsize=style.FONT_SMALL)
    # scale and sum
    style.box(ax, (7.35, 1.75), 0.9, 0.55, labels["scale"], fontsize=style.FONT)
    ax.add_patch(Circle((7.8, 3.4), 0.3, facecolor=style.PANEL, edgecolor=style.INK, linewidth=1.0, zorder=2))
    ax.text(7.8, 3.4, "+", ha="center", va="center", fontsize=style.FONT_TITLE, fontweight="bold", zorder=3)
    # wiring
    style.arrow(ax, (0.85, 4.3), (2.55, 4.95))
    style.arrow(ax, (0.85, 2.5), (2.0, 1.85))
    style.arrow(ax, (3.9, 1.75), (4.95, 1.75))
    style.arrow(ax, (5.45, 1.75), (6.9, 1.75))
    style.arrow(ax, (5.25, 4.95), (7.6, 3.63))
    style.arrow(ax, (7.55, 2.02), (7.72, 3.1))
    style.arrow(ax, (8.1, 3.4), (9.15, 3.4))
