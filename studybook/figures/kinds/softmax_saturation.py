"""Why attention divides by sqrt(d_k): the largest softmax weight of one row of scores, as d_k grows,
with raw dot products and with scaled ones.

The row stands for a typical query against n keys whose components are independent with mean 0 and
variance 1: raw scores then have standard deviation sqrt(d_k), scaled ones 1. Instead of random draws
(which would make the figure depend on a random generator), the scores are the n evenly spaced
quantiles of that normal distribution, so the figure is exact and reproducible.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from statistics import NormalDist
from typing import TYPE_CHECKING, Any

from .. import style
from ._common import number, numbers, softmax

if TYPE_CHECKING:
    from matplotlib.figure import Figure

KIND = "softmax_saturation"
DATA = {"keys": number(integer=True, lo=2, hi=100_000),
        "d_k": numbers(min_len=2, max_len=16, integer=True, lo=1, hi=65_536, increasing=True),
        "mark": number(integer=True, lo=1)}
LABELS = {"x": (), "y": (), "raw": (), "scaled": (), "mark_fmt": ("d", "s", "w")}
HEIGHT = 3.3


def check(data: Mapping[str, Any]) -> list[tuple[tuple[str, ...], str]]:
    if data["mark"] not in data["d_k"]:
        return [(("mark",), "data `mark` must be one of the `d_k` values — add it to `d_k` or pick one of them")]
    return []


def typical_scores(keys: int, std: float) -> list[float]:
    unit = NormalDist()
    return [std * unit.inv_cdf((j + 0.5) / keys) for j in range(keys)]


def compute(data: Mapping[str, Any]) -> dict[str, Any]:
    keys = int(data["keys"])
    raw, scaled = [], []
    for d in data["d_k"]:
        raw.append(max(softmax(typical_scores(keys, math.sqrt(d)))))
        scaled.append(max(softmax(typical_scores(keys, 1.0))))
    return {"raw_max": raw, "scaled_max": scaled, "raw_std": [math.sqrt(d) for d in data["d_k"]]}


def draw(fig: Figure, data: Mapping[str, Any], labels: Mapping[str, str]) -> None:
    result = compute(data)
    d_k = list(data["d_k"])
    ax = fig.add_axes((0.15, 0.16, 0.8, 0.64))
    raw_s, scaled_s = style.series(1), style.series(0)
    ax.plot(d_k, result["raw_max"], color=raw_s.color, linestyle=raw_s.linestyle, marker=raw_s.marker,
            label=labels["raw"])
    ax.plot(d_k, result["scaled_max"], color=scaled_s.color, linestyle=scaled_s.linestyle, marker=scaled_s.marker,
            label=labels["scaled"])
    ax.set_xscale("log", base=2)
    ax.set_xticks(d_k)
    ax.set_xticklabels([f"{d:g}" if i % 2 == 0 or d == data["mark"] else "" for i, d in enumerate(d_k)])
    ax.minorticks_off()
    ax.set_ylim(0, 1.05)
    ax.set_xlabel(labels["x"])
    ax.set_ylabel(labels["y"])
    ax.grid(axis="y")
    i = d_k.index(data["mark"])
    ax.axvline(data["mark"], color=style.MUTED, linewidth=0.8, linestyle=(0, (3, 2)), zorder=0)
    ax.annotate(labels["mark_fmt"].format(d=data["mark"], s=f"{result['raw_std'][i]:.1f}",
                                          w=f"{result['raw_max'][i]:.3f}"),
                (data["mark"], result["raw_max"][i]), xytext=(0.42, 0.42), textcoords="axes fraction", ha="left",
                va="top", fontsize=style.FONT_SMALL, linespacing=1.2,
                arrowprops={"arrowstyle": "-", "color": style.INK, "linewidth": 0.8})
    fig.legend(*ax.get_legend_handles_labels(), loc="upper center", ncol=1, bbox_to_anchor=(0.55, 1.0),
               handlelength=2.6)
