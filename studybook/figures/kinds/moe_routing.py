"""Mixture-of-experts routing: each token goes to its top-k experts, with gate weights computed as
the softmax of the router scores it kept (KeepTopK, then softmax)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from .. import style
from ._common import matrix, number, softmax, split_list

if TYPE_CHECKING:
    from matplotlib.figure import Figure

KIND = "moe_routing"
DATA = {"experts": number(integer=True, lo=2, hi=8), "k": number(integer=True, lo=1, hi=4),
        "router_logits": matrix(rows=(1, 4), cols=(2, 8), lo=-20, hi=20)}
LABELS = {"tokens": (), "expert_fmt": ("i",), "router_fmt": ("k", "n"), "idle": ()}
LIST_LABELS = {"tokens": lambda data: len(data["router_logits"])}
HEIGHT = 3.4


def check(data: Mapping[str, Any]) -> list[tuple[tuple[str, ...], str]]:
    if any(len(row) != data["experts"] for row in data["router_logits"]):
        return [(("router_logits",), "each row of data `router_logits` needs one score per expert — "
                                     "give `experts` numbers per token")]
    if data["k"] >= data["experts"]:
        return [(("k",), "data `k` must be smaller than `experts` — routing picks a few of many")]
    return []


def compute(data: Mapping[str, Any]) -> dict[str, Any]:
    k = int(data["k"])
    routes = []
    for row in data["router_logits"]:
        chosen = sorted(sorted(range(len(row)), key=lambda e: -row[e])[:k])
        kept = [row[e] if e in chosen else -math.inf for e in range(len(row))]
        gates = softmax(kept)
        routes.append({e: gates[e] for e in chosen})
    used = sorted({e for r in routes for e in r})
    return {"routes": routes, "used": used}


def draw(fig: Figure, data: Mapping[str, Any], labels: Mapping[str, str]) -> None:
    result = compute(data)
    tokens = split_list(labels["tokens"])
    n_exp = int(data["experts"])
    top = 10 * HEIGHT / style.FIG_WIDTH
    ax = style.diagram_axes(fig, (0, 10), (0, top))
    body_top, body_bottom = top - 1.0, 0.35
    expert_y = [body_top - (body_top - body_bottom) * (e + 0.5) / n_exp for e in range(n_exp)]
    token_y = [body_top - (body_top - body_bottom) * (t + 0.5) / len(tokens) for t in range(len(tokens))]
    ax.text(5.0, top - 0.42, labels["router_fmt"].format(k=data["k"], n=n_exp), ha="center", va="center",
            fontsize=style.FONT, fontweight="bold")
    row_h = (body_top - body_bottom) / n_exp
    for e, y in enumerate(expert_y):
        used = e in result["used"]
        style.box(ax, (8.9, y), 1.5, row_h * 0.74, labels["expert_fmt"].format(i=e + 1),
                  fill=style.PANEL if used else style.BLOCKED, dashed=not used,
                  text_color=style.INK if used else style.MUTED)
        if not used:
            ax.text(8.05, y, labels["idle"], ha="right", va="center", fontsize=style.FONT_SMALL, color=style.MUTED)
    for t, (name, y) in enumerate(zip(tokens, token_y, strict=True)):
        s = style.series(t)
        style.box(ax, (1.0, y), 1.5, 0.72, name, fill=s.color, text_color=style.INK if s.light else "#FFFFFF")
        chosen = sorted(result["routes"][t].items(), key=lambda item: -expert_y[item[0]])
        for c, (e, gate) in enumerate(chosen):
            spread = 0.0 if len(chosen) == 1 else 0.4 * (0.5 - c / (len(chosen) - 1))
            start, end = (1.75, y + spread), (8.15, expert_y[e])
            ax.annotate("", xy=end, xytext=start, arrowprops={
                "arrowstyle": "-|>,head_length=0.45,head_width=0.22", "color": s.color if not s.light else style.INK,
                "linewidth": 0.8 + 2.2 * gate, "linestyle": s.linestyle, "shrinkA": 0, "shrinkB": 0})
            tx = start[0] + 0.2 * (end[0] - start[0])
            ty = start[1] + 0.2 * (end[1] - start[1])
            ax.text(tx, ty, f"{gate:.2f}", ha="center", va="center", fontsize=style.FONT_SMALL, zorder=4,
                    bbox={"boxstyle": "round,pad=0.1", "facecolor": style.BACKGROUND, "edgecolor": "none"})
