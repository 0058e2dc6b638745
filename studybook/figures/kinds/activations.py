"""ReLU, GELU and SiLU (Swish) and their derivatives, computed from their definitions."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from .. import style
from ._common import number, numbers

if TYPE_CHECKING:
    from matplotlib.figure import Figure

KIND = "activations"
DATA = {"x_range": numbers(min_len=2, max_len=2, lo=-10, hi=10, increasing=True), "mark": number(lo=-10, hi=10)}
LABELS = {"relu": (), "gelu": (), "silu": (), "title_f": (), "title_d": (), "x": (), "point_fmt": ("v",),
          "slope_fmt": ("v",)}
HEIGHT = 5.4


def _phi(x: float) -> float:
    return math.exp(-x * x / 2) / math.sqrt(2 * math.pi)


def _cdf(x: float) -> float:
    return 0.5 * (1 + math.erf(x / math.sqrt(2)))


def _sigmoid(x: float) -> float:
    return 1 / (1 + math.exp(-x))


FUNCTIONS = {
    "relu": (lambda x: max(0.0, x), lambda x: 1.0 if x > 0 else 0.0),
    "gelu": (lambda x: x * _cdf(x), lambda x: _cdf(x) + x * _phi(x)),
    "silu": (lambda x: x * _sigmoid(x), lambda x: _sigmoid(x) * (1 + x * (1 - _sigmoid(x)))),
}


def compute(data: Mapping[str, Any]) -> dict[str, Any]:
    mark = float(data["mark"])
    f, d = FUNCTIONS["gelu"]
    return {"gelu_at_mark": f(mark), "gelu_slope_at_0": d(0.0),
            "relu_slope": {"neg": FUNCTIONS["relu"][1](-1.0), "zero": FUNCTIONS["relu"][1](0.0),
                           "pos": FUNCTIONS["relu"][1](1.0)}}


def _num(v: float) -> str:
    return f"{v:.3f}".replace("-", "\u2212")


def draw(fig: Figure, data: Mapping[str, Any], labels: Mapping[str, str]) -> None:
    lo, hi = (float(v) for v in data["x_range"])
    steps = 240
    xs = [lo + (hi - lo) * i / steps for i in range(steps + 1)]
    axes = fig.subplots(2, 1, gridspec_kw={"hspace": 0.42, "left": 0.13, "right": 0.97, "top": 0.86,
                                            "bottom": 0.1})
    for row, ax in enumerate(axes):
        for i, name in enumerate(("relu", "gelu", "silu")):
            s = style.series(i)
            fn = FUNCTIONS[name][row]
            if row == 1 and name == "relu":
                # ReLU' is a step with no value at 0: draw both pieces, and the framework's choice (0).
                left = [x for x in xs if x < 0]
                right = [x for x in xs if x > 0]
                ax.plot(left, [0.0] * len(left), color=s.color, linestyle=s.linestyle, label=labels[name],
                        linewidth=s.width)
                ax.plot(right, [1.0] * len(right), color=s.color, linestyle=s.linestyle, linewidth=s.width)
                ax.plot([0], [0], marker="o", color=s.color, markersize=5, zorder=5)
                ax.plot([0], [1], marker="o", markerfacecolor=style.PANEL, markeredgecolor=s.color, markersize=5,
                        zorder=5)
                continue
            ax.plot(xs, [fn(x) for x in xs], color=s.color, linestyle=s.linestyle, label=labels[name],
                    linewidth=s.width)
        ax.axhline(0, color=style.GRID, linewidth=0.8, zorder=0)
        ax.axvline(0, color=style.GRID, linewidth=0.8, zorder=0)
        ax.set_title(labels["title_f" if row == 0 else "title_d"], loc="left", fontweight="bold")
        ax.set_xlim(lo, hi)
    values = compute(data)
    mark = float(data["mark"])
    top, bottom = axes
    top.set_ylim(-0.6, hi)
    top.plot([mark], [values["gelu_at_mark"]], marker="s", color=style.INK, markersize=5, zorder=6)
    top.annotate(labels["point_fmt"].format(v=_num(values["gelu_at_mark"])), (mark, values["gelu_at_mark"]),
                 xytext=(-6, 34), textcoords="offset points", ha="center", fontsize=style.FONT_SMALL,
                 arrowprops={"arrowstyle": "-", "color": style.INK, "linewidth": 0.8})
    bottom.set_ylim(-0.25, 1.35)
    bottom.plot([0], [values["gelu_slope_at_0"]], marker="s", color=style.INK, markersize=5, zorder=6)
    bottom.annotate(labels["slope_fmt"].format(v=f"{values['gelu_slope_at_0']:.1f}"), (0, values["gelu_slope_at_0"]),
                    xytext=(14, -4), textcoords="offset points", ha="left", va="top", fontsize=style.FONT_SMALL)
    bottom.set_xlabel(labels["x"])
    handles, names = top.get_legend_handles_labels()
    fig.legend(handles, names, loc="upper center", ncol=3, bbox_to_anchor=(0.55, 0.995), handlelength=2.6,
               columnspacing=1.2)
