"""One logit vector's softmax at several temperatures: one bar chart per temperature."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from .. import style
from ._common import fmt_prob, numbers, softmax

if TYPE_CHECKING:
    from matplotlib.figure import Figure

KIND = "softmax_temperature"
DATA = {
    "logits": numbers(min_len=2, max_len=6),
    "temperatures": numbers(min_len=1, max_len=4, positive=True),
}
LABELS = {"x": (), "y": (), "tick_fmt": ("z",), "title_fmt": ("t",)}
HEIGHT = 4.3


def compute(data: Mapping[str, Any]) -> dict[str, Any]:
    return {"probs": [softmax(data["logits"], t) for t in data["temperatures"]]}


def draw(fig: Figure, data: Mapping[str, Any], labels: Mapping[str, str]) -> None:
    logits = list(data["logits"])
    temps = list(data["temperatures"])
    probs = compute(data)["probs"]
    cols = 2 if len(temps) > 1 else 1
    rows = (len(temps) + cols - 1) // cols
    axes = fig.subplots(rows, cols, sharey=True, squeeze=False,
                        gridspec_kw={"hspace": 0.62, "wspace": 0.12, "left": 0.15, "right": 0.97,
                                     "top": 0.92, "bottom": 0.14})
    positions = range(len(logits))
    ticks = [labels["tick_fmt"].format(z=f"{z:g}") for z in logits]
    for index, ax in enumerate(axes.flat):
        if index >= len(temps):
            ax.set_visible(False)
            continue
        bars = ax.bar(positions, probs[index], width=0.66)
        for i, bar in enumerate(bars):
            s = style.series(i)
            bar.set_facecolor(s.color)
            bar.set_hatch(s.hatch or None)
            bar.set_edgecolor(style.INK)
        style.label_bars(ax, bars, [fmt_prob(p) for p in probs[index]])
        ax.set_ylim(0, 1.22)
        ax.set_yticks([0, 0.5, 1.0])
        ax.set_yticklabels(["0", "0.5", "1"])
        ax.set_xticks(list(positions))
        ax.set_xticklabels(ticks)
        ax.set_title(labels["title_fmt"].format(t=f"{temps[index]:g}"))
        if index % cols == 0:
            ax.set_ylabel(labels["y"])
        ax.tick_params(axis="x", length=0)
    fig.supxlabel(labels["x"], fontsize=style.FONT, y=0.015)
