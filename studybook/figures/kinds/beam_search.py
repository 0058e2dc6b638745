"""Greedy decoding against beam search on a two-step toy tree; path probabilities are computed."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from .. import style
from ._common import matrix, number, numbers, split_list

if TYPE_CHECKING:
    from matplotlib.figure import Figure

KIND = "beam_search"
DATA = {"step1": numbers(min_len=2, max_len=2, lo=0, hi=1), "step2": matrix(rows=(2, 2), cols=(2, 2), lo=0, hi=1),
        "beam_width": number(integer=True, lo=1, hi=4)}
LABELS = {"root": (), "step1_tokens": (), "step2_tokens": (), "greedy": (), "beam": ("k",)}
LIST_LABELS = {"step1_tokens": lambda data: 2, "step2_tokens": lambda data: 4}
HEIGHT = 3.1


def check(data: Mapping[str, Any]) -> list[tuple[tuple[str, ...], str]]:
    problems: list[tuple[tuple[str, ...], str]] = []
    if sum(data["step1"]) > 1 + 1e-9:
        problems.append((("step1",), "data `step1` probabilities add up to more than 1 — lower them"))
    if any(sum(row) > 1 + 1e-9 for row in data["step2"]):
        problems.append((("step2",), "a row of data `step2` adds up to more than 1 — each row is one "
                                     "distribution over next tokens"))
    return problems


def compute(data: Mapping[str, Any]) -> dict[str, Any]:
    step1, step2, width = list(data["step1"]), [list(r) for r in data["step2"]], int(data["beam_width"])
    products = {(i, j): step1[i] * step2[i][j] for i in range(2) for j in range(2)}
    g1 = max(range(2), key=lambda i: step1[i])
    g2 = max(range(2), key=lambda j: step2[g1][j])
    beams = sorted(range(2), key=lambda i: -step1[i])[:width]
    candidates = sorted(((i, j) for i in beams for j in range(2)), key=lambda ij: -products[ij])
    kept = candidates[:width]
    return {"products": products, "greedy": (g1, g2), "greedy_p": products[(g1, g2)], "kept": kept,
            "beam": kept[0], "beam_p": products[kept[0]]}


def _num(v: float) -> str:
    return f"{v:.2f}".rstrip("0").rstrip(".") if v < 1 else "1"


def draw(fig: Figure, data: Mapping[str, Any], labels: Mapping[str, str]) -> None:
    from matplotlib.lines import Line2D
    result = compute(data)
    step1, step2 = list(data["step1"]), [list(r) for r in data["step2"]]
    tok1, tok2 = split_list(labels["step1_tokens"]), split_list(labels["step2_tokens"])
    ax = style.diagram_axes(fig, (0, 10), (0, 10 * HEIGHT / style.FIG_WIDTH))
    root = (0.9, 3.1)
    mids = [(3.5, 4.5), (3.5, 1.7)]
    leaves = [(6.1, 5.2), (6.1, 3.8), (6.1, 2.4), (6.1, 1.0)]
    greedy_s, beam_s = style.series(1), style.series(0)

    def edge(a: tuple[float, float], b: tuple[float, float], p: float, path: str) -> None:
        if path == "greedy":
            color, width, ls = greedy_s.color, 2.6, greedy_s.linestyle
        elif path == "beam":
            color, width, ls = beam_s.color, 2.6, beam_s.linestyle
        else:
            color, width, ls = style.MUTED, 1.0, "-"
        ax.plot([a[0] + 0.55, b[0] - 0.55], [a[1], b[1]], color=color, linewidth=width, linestyle=ls, zorder=1,
                solid_capstyle="butt")
        mx, my = (a[0] + b[0]) / 2, (a[1] + b[1]) / 2
        ax.text(mx, my + 0.05, _num(p), ha="center", va="center", fontsize=style.FONT_SMALL, zorder=3,
                bbox={"boxstyle": "round,pad=0.15", "facecolor": style.BACKGROUND, "edgecolor": "none"})

    g1, g2 = result["greedy"]
    b1, b2 = result["beam"]
    style.box(ax, root, 1.2, 0.6, labels["root"])
    for i, mid in enumerate(mids):
        path = "greedy" if i == g1 else "beam" if i == b1 else ""
        edge(root, mid, step1[i], path)
        style.box(ax, mid, 1.1, 0.6, tok1[i])
        for j in range(2):
            leaf = leaves[2 * i + j]
            kept = (i, j) in result["kept"]
            path = "greedy" if (i, j) == (g1, g2) else "beam" if (i, j) == (b1, b2) else ""
            edge(mid, leaf, step2[i][j], path)
            style.box(ax, leaf, 1.1, 0.6, tok2[2 * i + j], fill=style.PANEL if kept else style.BLOCKED,
                      dashed=not kept)
            product = result["products"][(i, j)]
            ax.text(6.85, leaf[1], f"{_num(step1[i])} × {_num(step2[i][j])} = {product:.2f}", ha="left",
                    va="center", fontsize=style.FONT_SMALL, color=style.INK if kept else style.MUTED,
                    fontweight="bold" if path else "normal")
    handles = [Line2D([], [], color=greedy_s.color, linestyle=greedy_s.linestyle, linewidth=2.6),
               Line2D([], [], color=beam_s.color, linestyle=beam_s.linestyle, linewidth=2.6)]
    ax.legend(handles, [labels["greedy"], labels["beam"].format(k=data["beam_width"])], loc="upper left",
              bbox_to_anchor=(0.0, 1.0), ncol=2, handlelength=2.6, borderaxespad=0.3)
