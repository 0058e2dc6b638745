"""Causal masking and the row-wise softmax: scores plus mask on the left, weights on the right."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from .. import style
from ._common import fmt_prob, matrix, softmax, split_list

if TYPE_CHECKING:
    from matplotlib.colors import Normalize
    from matplotlib.figure import Figure

KIND = "causal_attention"
DATA = {"scores": matrix(rows=(2, 6), cols=(2, 6), lo=-20, hi=20)}
LABELS = {"tokens": (), "rows": (), "cols": (), "left_title": (), "right_title": (), "blocked": ()}
LIST_LABELS = {"tokens": lambda data: len(data["scores"])}
HEIGHT = 3.1


def check(data: Mapping[str, Any]) -> list[tuple[tuple[str, ...], str]]:
    if any(len(row) != len(data["scores"]) for row in data["scores"]):
        return [(("scores",), "data `scores` must be square (one row per query, one column per key) — "
                              "give n rows of n numbers")]
    return []


def compute(data: Mapping[str, Any]) -> dict[str, Any]:
    rows = []
    for i, row in enumerate(data["scores"]):
        masked = [s if j <= i else -math.inf for j, s in enumerate(row)]
        rows.append(softmax(masked))
    return {"weights": rows}


def _grid(ax: Any, values: list[list[float | None]], texts: list[list[str]], norm: Normalize, tokens: list[str],
          labels: Mapping[str, str], title: str, show_rows: bool) -> None:
    import matplotlib as mpl
    from matplotlib.patches import Rectangle
    cmap = mpl.colormaps[style.HEATMAP]
    n = len(values)
    for i in range(n):
        for j in range(n):
            value = values[i][j]
            if value is None:
                ax.add_patch(Rectangle((j, i), 1, 1, facecolor=style.BLOCKED, hatch="///", edgecolor=style.PANEL,
                                       linewidth=1.5))
                color = style.INK
            else:
                rgba = cmap(norm(value))
                ax.add_patch(Rectangle((j, i), 1, 1, facecolor=rgba, edgecolor=style.PANEL, linewidth=1.5))
                lum = 0.2126 * rgba[0] + 0.7152 * rgba[1] + 0.0722 * rgba[2]
                color = style.INK if lum > 0.5 else "#FFFFFF"
            box = None if value is not None else {"boxstyle": "round,pad=0.2", "facecolor": style.BLOCKED,
                                                   "edgecolor": "none"}
            ax.text(j + 0.5, i + 0.5, texts[i][j], ha="center", va="center", fontsize=style.FONT_SMALL, color=color,
                    bbox=box)
    ax.set_xlim(0, n)
    ax.set_ylim(n, 0)
    ax.set_aspect("equal")
    ax.set_xticks([j + 0.5 for j in range(n)])
    ax.set_xticklabels(tokens)
    ax.xaxis.tick_top()
    ax.set_yticks([i + 0.5 for i in range(n)])
    ax.set_yticklabels(tokens if show_rows else [])
    ax.tick_params(length=0)
    for spine in ax.spines.values():
        spine.set_visible(False)
    ax.set_xlabel(title, fontweight="bold")
    if show_rows:
        ax.set_ylabel(labels["rows"])


def draw(fig: Figure, data: Mapping[str, Any], labels: Mapping[str, str]) -> None:
    from matplotlib.colors import Normalize
    scores = [list(row) for row in data["scores"]]
    weights = compute(data)["weights"]
    tokens = split_list(labels["tokens"])
    n = len(scores)
    left, right = fig.subplots(1, 2, gridspec_kw={"wspace": 0.1, "left": 0.15, "right": 0.98, "top": 0.8,
                                                   "bottom": 0.13})
    score_values = [[scores[i][j] if j <= i else None for j in range(n)] for i in range(n)]
    score_texts = [[f"{scores[i][j]:.1f}".replace("-", "\u2212") if j <= i else labels["blocked"] for j in range(n)]
                   for i in range(n)]
    visible = [s for row in score_values for s in row if s is not None]
    _grid(left, score_values, score_texts, Normalize(min(visible) - 0.5, max(visible) + 0.5), tokens, labels,
          labels["left_title"], True)
    weight_values = [[weights[i][j] if j <= i else None for j in range(n)] for i in range(n)]
    weight_texts = [[fmt_prob(weights[i][j]) if j <= i else "0" for j in range(n)] for i in range(n)]
    _grid(right, weight_values, weight_texts, Normalize(0, 1), tokens, labels, labels["right_title"], False)
    fig.text(0.565, 0.975, labels["cols"], ha="center", va="top", fontsize=style.FONT)
