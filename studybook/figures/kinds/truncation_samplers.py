"""Top-k, top-p and min-p applied to the same next-token distributions: which tokens each keeps.

Each distribution is a head of equally likely tokens plus a tail that shares the remaining
probability evenly, as in the handbook's worked example. Counts are computed exactly (fractions),
so "0.8 + 5,000 × 0.00002 reaches 0.9" is not lost to rounding.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from fractions import Fraction
from typing import TYPE_CHECKING, Any

from .. import style
from ._common import list_of, mapping_of, number, split_list

if TYPE_CHECKING:
    from matplotlib.figure import Figure

KIND = "truncation_samplers"
DATA = {
    "k": number(integer=True, lo=1),
    "p": number(lo=0.01, hi=0.999),
    "p_base": number(lo=0.001, hi=0.999),
    "distributions": list_of(mapping_of({
        "head": number(integer=True, lo=1, hi=1000),
        "head_prob": number(lo=1e-6, hi=1.0),
        "tail": number(integer=True, lo=1, hi=1_000_000),
    }), min_len=1),
}
LABELS = {"x": (), "y": (), "titles": (), "top_k": (), "top_p": (), "min_p": (), "kept_fmt": ("n",),
          "cutoff_fmt": ("c",)}
LIST_LABELS = {"titles": lambda data: len(data["distributions"])}
HEIGHT = 5.6


def check(data: Mapping[str, Any]) -> list[tuple[tuple[str, ...], str]]:
    problems: list[tuple[tuple[str, ...], str]] = []
    for i, dist in enumerate(data["distributions"]):
        if Fraction(str(dist["head"])) * Fraction(str(dist["head_prob"])) >= 1:
            problems.append((("distributions",), f"distribution {i + 1}: the head alone holds probability 1 or "
                                                 "more — lower `head` or `head_prob` so the tail gets the rest"))
    return problems


def _parts(dist: Mapping[str, Any]) -> tuple[int, Fraction, int, Fraction]:
    head, tail = int(dist["head"]), int(dist["tail"])
    head_prob = Fraction(str(dist["head_prob"]))
    tail_prob = (1 - head * head_prob) / tail
    return head, head_prob, tail, tail_prob


def compute(data: Mapping[str, Any]) -> dict[str, Any]:
    """For each distribution: its probabilities and how many tokens each sampler keeps."""
    k, p, p_base = int(data["k"]), Fraction(str(data["p"])), Fraction(str(data["p_base"]))
    results = []
    for dist in data["distributions"]:
        head, head_prob, tail, tail_prob = _parts(dist)
        top = max(head_prob, tail_prob)
        if head * head_prob >= p:
            top_p = math.ceil(p / head_prob)
        else:
            top_p = min(head + tail, head + math.ceil((p - head * head_prob) / tail_prob))
        cutoff = p_base * top
        min_p = (head if head_prob >= cutoff else 0) + (tail if tail_prob >= cutoff else 0)
        results.append({"head": head, "tail": tail, "head_prob": float(head_prob), "tail_prob": float(tail_prob),
                        "top_k": min(k, head + tail), "top_p": top_p, "min_p": min_p, "cutoff": float(cutoff)})
    return {"distributions": results}


def _count(n: int) -> str:
    return f"{n:,}"


def draw(fig: Figure, data: Mapping[str, Any], labels: Mapping[str, str]) -> None:
    from matplotlib.ticker import NullLocator
    results = compute(data)["distributions"]
    titles = split_list(labels["titles"])
    outer = fig.add_gridspec(len(results), 1, hspace=0.32, left=0.2, right=0.95, top=0.94, bottom=0.1)
    names = [labels["top_k"], labels["top_p"], labels["min_p"]]
    n_max = max(r["head"] + r["tail"] for r in results)
    x_max = n_max * 5
    for index, result in enumerate(results):
        inner = outer[index].subgridspec(2, 1, height_ratios=[1.45, 1.0], hspace=0.14)
        curve = fig.add_subplot(inner[0])
        kept = fig.add_subplot(inner[1], sharex=curve)
        n = result["head"] + result["tail"]
        xs = [1, result["head"] + 1, result["head"] + 1, n + 1]
        ys = [result["head_prob"], result["head_prob"], result["tail_prob"], result["tail_prob"]]
        curve.fill_between(xs, ys, 1e-7, color=style.SERIES[2].color, alpha=0.55, linewidth=0)
        curve.plot(xs, ys, color=style.INK, linewidth=1.3)
        curve.axhline(result["cutoff"], color=style.INK, linestyle=(0, (4, 2)), linewidth=1.0)
        curve.annotate(labels["cutoff_fmt"].format(c=f"{result['cutoff']:.3g}"), (x_max / 1.3, result["cutoff"]),
                       xytext=(0, 3), textcoords="offset points", ha="right", va="bottom", fontsize=style.FONT_SMALL)
        curve.set_xscale("log")
        curve.set_yscale("log")
        curve.set_ylim(1e-6, 3)
        curve.set_yticks([1e-5, 1e-3, 1e-1], ["10\u207b\u2075", "10\u207b\u00b3", "10\u207b\u00b9"])
        curve.yaxis.set_minor_locator(NullLocator())
        curve.set_title(titles[index], loc="left", fontsize=style.FONT_TITLE, fontweight="bold")
        curve.set_ylabel(labels["y"])
        curve.tick_params(axis="x", labelbottom=False)

        counts = [result["top_k"], result["top_p"], result["min_p"]]
        for row, count in enumerate(counts):
            s = style.series(row)
            y = 2 - row
            kept.barh(y, count, left=1, height=0.62, color=s.color, hatch=s.hatch or None, edgecolor=style.INK,
                      linewidth=0.8)
            kept.annotate(labels["kept_fmt"].format(n=_count(count)), (count + 1, y), xytext=(4, 0),
                          textcoords="offset points", va="center", ha="left", fontsize=style.FONT_SMALL)
        kept.set_yticks([2, 1, 0])
        kept.set_yticklabels(names)
        kept.tick_params(axis="y", length=0)
        kept.set_ylim(-0.6, 2.6)
        kept.spines["left"].set_visible(False)
        kept.set_xlim(0.8, x_max)
        ticks = [10 ** e for e in range(int(math.log10(n_max)) + 1)]
        kept.set_xticks(ticks, [f"{t:,}" for t in ticks])
        kept.xaxis.set_minor_locator(NullLocator())
        if index == len(results) - 1:
            kept.set_xlabel(labels["x"])
        else:
            kept.tick_params(axis="x", labelbottom=False)
