"""The sinusoidal positional encoding of the original Transformer as a heatmap."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from .. import style
from ._common import number

if TYPE_CHECKING:
    from matplotlib.figure import Figure

KIND = "positional_encoding"
DATA = {"positions": number(integer=True, lo=2, hi=512), "d_model": number(integer=True, lo=4, hi=512),
        "base": number(lo=2)}
LABELS = {"x": (), "y": (), "colorbar": ()}
HEIGHT = 3.9


def check(data: Mapping[str, Any]) -> list[tuple[tuple[str, ...], str]]:
    if data["d_model"] % 2:
        return [(("d_model",), "data `d_model` must be even (sine and cosine come in pairs) — use an even width")]
    return []


def compute(data: Mapping[str, Any]) -> dict[str, Any]:
    d, base = int(data["d_model"]), float(data["base"])
    table = []
    for pos in range(int(data["positions"])):
        row = []
        for dim in range(d):
            i = dim // 2
            angle = pos / base ** (2 * i / d)
            row.append(math.sin(angle) if dim % 2 == 0 else math.cos(angle))
        table.append(row)
    wavelengths = [2 * math.pi * base ** (2 * i / d) for i in range(d // 2)]
    return {"pe": table, "wavelengths": wavelengths}


def draw(fig: Figure, data: Mapping[str, Any], labels: Mapping[str, str]) -> None:
    table = compute(data)["pe"]
    ax = fig.add_axes((0.14, 0.14, 0.66, 0.8))
    image = ax.imshow(table, cmap=style.HEATMAP, vmin=-1, vmax=1, aspect="auto", origin="upper",
                      interpolation="nearest")
    ax.set_xlabel(labels["x"])
    ax.set_ylabel(labels["y"])
    for side in ("top", "right"):
        ax.spines[side].set_visible(True)
    bar_ax = fig.add_axes((0.83, 0.14, 0.035, 0.8))
    bar = fig.colorbar(image, cax=bar_ax, ticks=[-1, 0, 1])
    bar.set_label(labels["colorbar"])
    bar.outline.set_linewidth(0.8)
