"""Cross-entropy for one position, -ln p, against the probability p given to the correct token,
with the points for a worked example's logits marked."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from .. import style
from ._common import numbers, softmax

if TYPE_CHECKING:
    from matplotlib.figure import Figure

KIND = "neg_log_likelihood"
DATA = {"logits": numbers(min_len=2, max_len=10, lo=-50, hi=50),
        "targets": numbers(min_len=1, max_len=3, integer=True, lo=0)}
LABELS = {"x": (), "y": (), "point_fmt": ("p", "loss")}
HEIGHT = 3.2


def check(data: Mapping[str, Any]) -> list[tuple[tuple[str, ...], str]]:
    if max(data["targets"]) >= len(data["logits"]):
        return [(("targets",), "data `targets` holds a position past the last logit — count logits from 0")]
    return []


def compute(data: Mapping[str, Any]) -> dict[str, Any]:
    probs = softmax(data["logits"])
    points = [{"target": t, "p": probs[t], "loss": -math.log(probs[t])} for t in data["targets"]]
    return {"probs": probs, "points": points}


def draw(fig: Figure, data: Mapping[str, Any], labels: Mapping[str, str]) -> None:
    result = compute(data)
    ax = fig.add_axes((0.15, 0.17, 0.8, 0.78))
    s = style.series(0)
    xs = [0.005 + i * (1 - 0.005) / 400 for i in range(401)]
    ax.plot(xs, [-math.log(x) for x in xs], color=s.color, linewidth=2.0)
    ax.set_xlim(0, 1.02)
    ax.set_ylim(0, 5.4)
    ax.set_xlabel(labels["x"])
    ax.set_ylabel(labels["y"])
    ax.grid(True)
    for i, point in enumerate(result["points"]):
        mark = style.series(1 + i)
        ax.plot([point["p"]], [point["loss"]], marker=mark.marker, color=style.INK,
                markerfacecolor=mark.color, markersize=7, zorder=5)
        ax.plot([point["p"], point["p"]], [0, point["loss"]], color=style.MUTED, linewidth=0.8,
                linestyle=(0, (3, 2)))
        text = labels["point_fmt"].format(p=f"{point['p']:.3f}", loss=f"{point['loss']:.3f}")
        ax.annotate(text, (point["p"], point["loss"]), xytext=(10, 8), textcoords="offset points",
                    ha="left", va="bottom", fontsize=style.FONT_SMALL)
