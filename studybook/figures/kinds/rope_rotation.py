"""RoPE on one 2-D pair: a query and a key rotated by their positions. Shifting both positions by the
same amount turns both vectors further but leaves their angle, and so their dot product, unchanged."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from .. import style
from ._common import list_of, number, numbers

if TYPE_CHECKING:
    from matplotlib.figure import Figure

KIND = "rope_rotation"
DATA = {
    "query": numbers(min_len=2, max_len=2, lo=-1.2, hi=1.2),
    "key": numbers(min_len=2, max_len=2, lo=-1.2, hi=1.2),
    "base": number(lo=2),
    "head_dim": number(integer=True, lo=2, hi=1024),
    "pair": number(integer=True, lo=0),
    "positions": list_of(numbers(min_len=2, max_len=2, integer=True, lo=0, hi=10_000), min_len=1),
}
LABELS = {"query": (), "key": (), "original": (), "title_fmt": ("m", "n"), "score_fmt": ("s",), "theta_fmt": ("deg",)}
HEIGHT = 3.5


def check(data: Mapping[str, Any]) -> list[tuple[tuple[str, ...], str]]:
    if 2 * int(data["pair"]) >= int(data["head_dim"]):
        return [(("pair",), "data `pair` must be below head_dim / 2 — pick one of the head's 2-D pairs")]
    if len(data["positions"]) > 2:
        return [(("positions",), "at most two position pairs fit side by side — give one or two [m, n] pairs")]
    return []


def theta(data: Mapping[str, Any]) -> float:
    return float(data["base"]) ** (-2 * int(data["pair"]) / int(data["head_dim"]))


def _rotate(v: tuple[float, float], angle: float) -> tuple[float, float]:
    c, s = math.cos(angle), math.sin(angle)
    return (c * v[0] - s * v[1], s * v[0] + c * v[1])


def compute(data: Mapping[str, Any]) -> dict[str, Any]:
    th = theta(data)
    q, k = tuple(data["query"]), tuple(data["key"])
    rows = []
    for m, n in data["positions"]:
        rq, rk = _rotate(q, m * th), _rotate(k, n * th)
        rows.append({"m": m, "n": n, "q": rq, "k": rk, "score": rq[0] * rk[0] + rq[1] * rk[1]})
    return {"theta": th, "rows": rows}


def draw(fig: Figure, data: Mapping[str, Any], labels: Mapping[str, str]) -> None:
    from matplotlib.lines import Line2D
    from matplotlib.patches import Arc, Circle
    result = compute(data)
    rows = result["rows"]
    axes = fig.subplots(1, len(rows), squeeze=False, gridspec_kw={"wspace": 0.08, "left": 0.03, "right": 0.97,
                                                                  "top": 0.73, "bottom": 0.12})[0]
    q0, k0 = tuple(data["query"]), tuple(data["key"])
    for ax, row in zip(axes, rows, strict=True):
        ax.set_aspect("equal")
        ax.set_xlim(-1.35, 1.35)
        ax.set_ylim(-1.35, 1.35)
        ax.set_axis_off()
        ax.add_patch(Circle((0, 0), 1.0, fill=False, edgecolor=style.GRID, linewidth=0.8))
        ax.plot([-1.3, 1.3], [0, 0], color=style.GRID, linewidth=0.8)
        ax.plot([0, 0], [-1.3, 1.3], color=style.GRID, linewidth=0.8)
        for vec in (q0, k0):
            ax.annotate("", xy=vec, xytext=(0, 0), arrowprops={"arrowstyle": "-|>", "color": style.MUTED,
                                                               "linewidth": 1.0, "linestyle": (0, (2, 2))})
        for vec, s in ((row["q"], style.series(0)), (row["k"], style.series(1))):
            ax.annotate("", xy=vec, xytext=(0, 0), arrowprops={"arrowstyle": "-|>,head_length=0.5,head_width=0.25",
                                                               "color": s.color, "linewidth": 2.0,
                                                               "linestyle": s.linestyle})
        a_q = math.degrees(math.atan2(row["q"][1], row["q"][0]))
        a_k = math.degrees(math.atan2(row["k"][1], row["k"][0]))
        lo, hi = sorted((a_q, a_k))
        if hi - lo > 180:
            lo, hi = hi, lo + 360
        ax.add_patch(Arc((0, 0), 0.62, 0.62, theta1=lo, theta2=hi, color=style.INK, linewidth=1.4))
        ax.set_title(labels["title_fmt"].format(m=row["m"], n=row["n"]), fontsize=style.FONT_TITLE)
        ax.text(0, -1.5, labels["score_fmt"].format(s=f"{row['score']:.3f}"), ha="center", va="top",
                fontsize=style.FONT_SMALL)
    s0, s1 = style.series(0), style.series(1)
    handles = [Line2D([], [], color=s0.color, linestyle=s0.linestyle, linewidth=2.0),
               Line2D([], [], color=s1.color, linestyle=s1.linestyle, linewidth=2.0),
               Line2D([], [], color=style.MUTED, linestyle=(0, (2, 2)), linewidth=1.0)]
    fig.legend(handles, [labels["query"], labels["key"], labels["original"]], loc="upper center", ncol=3,
               bbox_to_anchor=(0.5, 1.0), handlelength=2.2, columnspacing=1.0)
    fig.text(0.5, 0.865, labels["theta_fmt"].format(deg=f"{math.degrees(result['theta']):.1f}"), ha="center",
             va="center", fontsize=style.FONT_SMALL)
