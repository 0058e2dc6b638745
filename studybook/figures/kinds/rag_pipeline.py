"""The RAG pipeline as a diagram: the offline indexing lane and the online per-query lane, with the
sizing example's numbers computed from the corpus size, chunking and embedding width."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from .. import style
from ._common import number

if TYPE_CHECKING:
    from matplotlib.figure import Figure

KIND = "rag_pipeline"
DATA = {"corpus_tokens": number(integer=True, lo=1), "chunk_tokens": number(integer=True, lo=1),
        "overlap_tokens": number(integer=True, lo=0), "embedding_dim": number(integer=True, lo=1),
        "bytes_per_value": number(integer=True, lo=1, hi=8), "retrieve": number(integer=True, lo=1),
        "keep": number(integer=True, lo=1)}
LABELS = {"offline": (), "online": (), "ingest": (), "chunk": (), "embed": (), "index": (), "query": (),
          "rewrite": (), "retrieve": (), "rerank": (), "assemble": (), "generate": (), "answer": (), "cite": (),
          "chunks_fmt": ("n",), "index_fmt": ("mb",), "top_fmt": ("n",), "context_fmt": ("n",)}
HEIGHT = 3.05


def check(data: Mapping[str, Any]) -> list[tuple[tuple[str, ...], str]]:
    problems: list[tuple[tuple[str, ...], str]] = []
    if data["overlap_tokens"] >= data["chunk_tokens"]:
        problems.append((("overlap_tokens",), "the overlap must be shorter than a chunk — lower overlap_tokens"))
    if data["keep"] > data["retrieve"]:
        problems.append((("keep",), "re-ranking keeps at most what was retrieved — make keep ≤ retrieve"))
    return problems


def compute(data: Mapping[str, Any]) -> dict[str, Any]:
    stride = data["chunk_tokens"] - data["overlap_tokens"]
    chunks = math.ceil(data["corpus_tokens"] / stride)
    index_bytes = chunks * data["embedding_dim"] * data["bytes_per_value"]
    return {"chunks": chunks, "chunks_rounded": round(chunks, -2), "index_mb": index_bytes / 1e6,
            "context_tokens": data["keep"] * data["chunk_tokens"]}


def draw(fig: Figure, data: Mapping[str, Any], labels: Mapping[str, str]) -> None:
    numbers = compute(data)
    top = 10 * HEIGHT / style.FIG_WIDTH
    ax = style.diagram_axes(fig, (0, 10), (0, top))
    xs = [1.25, 3.75, 6.25, 8.75]
    w, h = 2.05, 0.72
    rows = [top - 0.95, top - 3.0, top - 4.65]
    ax.text(0.2, top - 0.28, labels["offline"], ha="left", va="center", fontweight="bold")
    ax.text(0.2, rows[1] + 0.72, labels["online"], ha="left", va="center", fontweight="bold")
    ax.plot([0.2, 9.8], [rows[1] + 1.15] * 2, color=style.GRID, linewidth=0.8)
    offline = [labels["ingest"], labels["chunk"], labels["embed"], labels["index"]]
    online = [labels["query"], labels["rewrite"], labels["retrieve"], labels["rerank"]]
    last = [labels["answer"], labels["generate"], labels["assemble"]]
    store = style.series(2)
    for i, (x, text) in enumerate(zip(xs, offline, strict=True)):
        style.box(ax, (x, rows[0]), w, h, text, fill=store.color if i == 3 else style.PANEL)
        if i:
            style.arrow(ax, (xs[i - 1] + w / 2, rows[0]), (x - w / 2, rows[0]))
    for i, (x, text) in enumerate(zip(xs, online, strict=True)):
        style.box(ax, (x, rows[1]), w, h, text, dashed=(i == 1), fill=style.series(0).color if i == 0 else style.PANEL,
                  text_color="#FFFFFF" if i == 0 else style.INK)
        if i:
            style.arrow(ax, (xs[i - 1] + w / 2, rows[1]), (x - w / 2, rows[1]))
    for i, (x, text) in enumerate(zip(xs, last, strict=False)):
        style.box(ax, (x, rows[2]), w, h, text, fill=style.series(0).color if i == 0 else style.PANEL,
                  text_color="#FFFFFF" if i == 0 else style.INK)
        if i:
            style.arrow(ax, (x - w / 2, rows[2]), (xs[i - 1] + w / 2, rows[2]))
    # the index feeds retrieval; re-ranked passages feed the context
    style.arrow(ax, (xs[3] - 0.35, rows[0] - h / 2), (xs[2] + 0.35, rows[1] + h / 2))
    style.arrow(ax, (xs[3] - 0.35, rows[1] - h / 2), (xs[2] + 0.35, rows[2] + h / 2))
    small: dict[str, Any] = {"ha": "center", "va": "top", "fontsize": style.FONT_SMALL}
    ax.text(xs[1], rows[0] - h / 2 - 0.08, labels["chunks_fmt"].format(n=f"{numbers['chunks_rounded']:,}"), **small)
    ax.text(xs[3], rows[0] - h / 2 - 0.08, labels["index_fmt"].format(mb=f"{numbers['index_mb']:.0f}"), **small)
    ax.text(xs[2], rows[1] - h / 2 - 0.08, labels["top_fmt"].format(n=data["retrieve"]), **small)
    ax.text(xs[3] + 0.35, rows[1] - h / 2 - 0.08, labels["top_fmt"].format(n=data["keep"]), **small)
    ax.text(xs[1], rows[2] - h / 2 - 0.08, labels["cite"], **small)
    ax.text(xs[2], rows[2] - h / 2 - 0.08, labels["context_fmt"].format(n=f"{numbers['context_tokens']:,}"),
            **small)
