"""A pre-norm Transformer block: the residual stream runs straight through; each sublayer reads a
normalised copy and adds its output back."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from .. import style
from ._common import number

if TYPE_CHECKING:
    from matplotlib.figure import Figure

KIND = "prenorm_block"
DATA = {"sublayers": number(integer=True, lo=2, hi=2)}
LABELS = {"input": (), "output": (), "norm": (), "attention": (), "ffn": (), "stream": (), "branch": ()}
HEIGHT = 4.2


def compute(data: Mapping[str, Any]) -> dict[str, Any]:
    return {"sublayers": int(data["sublayers"])}


def draw(fig: Figure, data: Mapping[str, Any], labels: Mapping[str, str]) -> None:
    from matplotlib.patches import Circle
    top = 10 * HEIGHT / style.FIG_WIDTH
    ax = style.diagram_axes(fig, (0, 10), (0, top))
    sx = 3.0                       # the residual stream's x
    bx = 6.6                       # the branch boxes' x
    y_in, y_out = 0.45, top - 0.45
    s = style.series(0)
    style.box(ax, (sx, y_in), 1.5, 0.6, labels["input"], bold=True)
    style.box(ax, (sx, y_out), 1.5, 0.6, labels["output"], bold=True)
    ax.plot([sx, sx], [y_in + 0.3, y_out - 0.3], color=s.color, linewidth=3.2, zorder=1, solid_capstyle="butt")
    ax.text(sx - 0.45, (y_in + y_out) / 2, labels["stream"], rotation=90, ha="right", va="center",
            fontsize=style.FONT, color=style.INK)
    span = (y_out - 0.3) - (y_in + 0.3)
    norm_fill = style.series(3).color
    sub_fill = style.series(2).color
    for i, name in enumerate((labels["attention"], labels["ffn"])):
        base = y_in + 0.3 + span * (0.06 + 0.5 * i)
        y_norm, y_sub, y_add = base + 0.7, base + 1.8, base + 2.75
        # branch out of the stream, through norm and sublayer, back into the sum
        ax.plot([sx, bx], [base, base], color=style.INK, linewidth=1.1, zorder=1)
        ax.plot([bx, bx], [base, y_norm - 0.3], color=style.INK, linewidth=1.1, zorder=1)
        style.arrow(ax, (bx, y_norm - 0.45), (bx, y_norm - 0.3))
        style.box(ax, (bx, y_norm), 3.0, 0.6, labels["norm"], fill=norm_fill)
        style.arrow(ax, (bx, y_norm + 0.3), (bx, y_sub - 0.3))
        style.box(ax, (bx, y_sub), 3.0, 0.6, name, fill=sub_fill)
        ax.plot([bx, bx], [y_sub + 0.3, y_add], color=style.INK, linewidth=1.1, zorder=1)
        style.arrow(ax, (bx, y_add), (sx + 0.27, y_add))
        ax.add_patch(Circle((sx, y_add), 0.27, facecolor=style.PANEL, edgecolor=style.INK, linewidth=1.1, zorder=3))
        ax.text(sx, y_add, "+", ha="center", va="center", fontsize=style.FONT_TITLE, fontweight="bold", zorder=4)
        ax.plot([sx, sx], [y_add - 0.27, y_add + 0.27], color=s.color, linewidth=0, zorder=0)
    style.arrow(ax, (sx, y_out - 0.5), (sx, y_out - 0.3), color=s.color, width=3.2)
    ax.text(sx + 0.25, y_in + 0.3 + span * 0.06 - 0.08, labels["branch"], ha="left", va="top",
            fontsize=style.FONT_SMALL, color=style.INK)
