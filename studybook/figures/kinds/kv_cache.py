"""KV-cache size of one sequence against context length, for named model configurations:
bytes = 2 (keys and values) x layers x KV heads x head width x bytes per number x tokens."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from .. import style
from ._common import list_of, mapping_of, number, numbers, split_list

if TYPE_CHECKING:
    from matplotlib.figure import Figure

KIND = "kv_cache"
DATA = {
    "configs": list_of(mapping_of({
        "layers": number(integer=True, lo=1, hi=1000),
        "kv_heads": number(integer=True, lo=1, hi=1000),
        "head_dim": number(integer=True, lo=1, hi=4096),
        "bytes": number(lo=0.125, hi=8),
    }), min_len=1),
    "max_tokens": number(integer=True, lo=16, hi=10_000_000),
    "marks": numbers(min_len=0, max_len=4, integer=True, lo=1),
}
LABELS = {"x": (), "y": (), "series": (), "mark_fmt": ("gib",)}
LIST_LABELS = {"series": lambda data: len(data["configs"])}
HEIGHT = 3.4
GIB = 2 ** 30


def check(data: Mapping[str, Any]) -> list[tuple[tuple[str, ...], str]]:
    if len(data["configs"]) > 4:
        return [(("configs",), "at most four configurations stay distinguishable — remove some")]
    if any(m > data["max_tokens"] for m in data["marks"]):
        return [(("marks",), "a mark lies beyond `max_tokens` — raise max_tokens or drop the mark")]
    return []


def bytes_per_token(config: Mapping[str, Any]) -> float:
    return 2 * config["layers"] * config["kv_heads"] * config["head_dim"] * config["bytes"]


def compute(data: Mapping[str, Any]) -> dict[str, Any]:
    per_token = [bytes_per_token(c) for c in data["configs"]]
    marks = [[b * m for m in data["marks"]] for b in per_token]
    return {"bytes_per_token": per_token, "mark_bytes": marks}


def _gib(value: float) -> str:
    return f"{value / GIB:g}"


def draw(fig: Figure, data: Mapping[str, Any], labels: Mapping[str, str]) -> None:
    result = compute(data)
    names = split_list(labels["series"])
    ax = fig.add_axes((0.14, 0.16, 0.8, 0.6))
    top = int(data["max_tokens"])
    for i, per_token in enumerate(result["bytes_per_token"]):
        s = style.series(i)
        ax.plot([0, top], [0, per_token * top / GIB], color=s.color, linestyle=s.linestyle, label=names[i],
                linewidth=2.0)
        for m, b in zip(data["marks"], result["mark_bytes"][i], strict=True):
            ax.plot([m], [b / GIB], marker=s.marker, color=s.color, markeredgecolor=style.INK, markersize=6,
                    zorder=5)
            ax.annotate(labels["mark_fmt"].format(gib=_gib(b)), (m, b / GIB), xytext=(-6, 5),
                        textcoords="offset points", ha="right", va="bottom", fontsize=style.FONT_SMALL)
    ax.set_xlim(0, top * 1.04)
    ax.set_ylim(0, max(result["bytes_per_token"]) * top / GIB * 1.15)
    ax.set_xticks([0, *data["marks"]] if data["marks"] else [0, top])
    ax.set_xticklabels([f"{t:,}" for t in ([0, *data["marks"]] if data["marks"] else [0, top])])
    ax.set_xlabel(labels["x"])
    ax.set_ylabel(labels["y"])
    ax.grid(axis="y")
    fig.legend(*ax.get_legend_handles_labels(), loc="upper left", bbox_to_anchor=(0.12, 1.0), handlelength=2.6)
