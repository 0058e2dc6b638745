"""The registry of figure kinds: one module per kind.

Each kind module defines:

- ``KIND``: the name authors write after ``kind:``;
- ``DATA``: ``{key: validator}`` for every key its ``data`` needs (see ``_common``);
- ``LABELS``: ``{key: (placeholder, ...)}``, every word the figure draws, with the ``{names}`` a
  template label must use (an empty tuple means plain text);
- optionally ``LIST_LABELS``: ``{key: function(data) -> count}`` for labels written ``a | b | c``;
- optionally ``check(data) -> [(path, message)]`` for rules that span several keys;
- ``HEIGHT``: figure height in inches (the width is the style's);
- ``compute(data) -> dict``: the numbers the figure shows (tested against the text);
- ``draw(fig, data, labels)``: draws on a Figure made by ``style.new_figure``.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import ModuleType
from typing import Any

from . import (
    activations,
    beam_search,
    causal_attention,
    kv_cache,
    lora,
    moe_routing,
    neg_log_likelihood,
    positional_encoding,
    prenorm_block,
    rag_pipeline,
    rope_rotation,
    softmax_saturation,
    softmax_temperature,
    truncation_samplers,
)
from ._common import placeholders, split_list

_MODULES: tuple[ModuleType, ...] = (
    activations, beam_search, causal_attention, kv_cache, lora, moe_routing, neg_log_likelihood,
    positional_encoding, prenorm_block, rag_pipeline, rope_rotation, softmax_saturation,
    softmax_temperature, truncation_samplers,
)
KINDS: dict[str, ModuleType] = {m.KIND: m for m in _MODULES}


def names() -> list[str]:
    return sorted(KINDS)


def get(kind: str) -> ModuleType | None:
    return KINDS.get(kind)


def check_data(module: ModuleType, data: Mapping[str, Any]) -> list[tuple[tuple[str, ...], str]]:
    problems: list[tuple[tuple[str, ...], str]] = []
    for key, validator in module.DATA.items():
        if key not in data:
            problems.append(((), f"`data` has no `{key}` — add `{key}: ...` for kind {module.KIND}"))
            continue
        problem = validator(data[key])
        if problem:
            problems.append(((key,), f"data `{key}`: {problem}"))
    for key in data:
        if key not in module.DATA:
            problems.append(((str(key),), f"unknown data key `{key}` for kind {module.KIND} — "
                                          f"use only {', '.join(module.DATA)}"))
    if not problems and hasattr(module, "check"):
        problems.extend(module.check(data))
    return problems


def check_labels(module: ModuleType, labels: Mapping[str, str],
                 data: Mapping[str, Any]) -> list[tuple[tuple[str, ...], str]]:
    problems: list[tuple[tuple[str, ...], str]] = []
    list_labels = getattr(module, "LIST_LABELS", {})
    for key, wanted in module.LABELS.items():
        if key not in labels or not labels[key].strip():
            hint = f" using {', '.join('{' + w + '}' for w in wanted)}" if wanted else ""
            problems.append(((), f"`labels` has no `{key}` — add `{key}: ...`{hint}; every word in the figure "
                                 "comes from the labels"))
            continue
        used = placeholders(labels[key])
        if used is None:
            problems.append(((key,), f"label `{key}` has unbalanced braces — write {{name}} placeholders, "
                                     "or double a literal brace"))
        elif used != set(wanted):
            want = ", ".join("{" + w + "}" for w in wanted) or "no {placeholders}"
            problems.append(((key,), f"label `{key}` uses {', '.join(sorted(used)) or 'no placeholders'} — "
                                     f"it must use exactly {want}"))
    for key in labels:
        if key not in module.LABELS:
            problems.append(((str(key),), f"unknown label `{key}` for kind {module.KIND} — "
                                          f"use only {', '.join(module.LABELS)}"))
    if not problems and not check_data(module, data):
        for key, count in list_labels.items():
            want = count(data)
            got = split_list(labels[key])
            if len(got) != want or not all(got):
                problems.append(((key,), f"label `{key}` has {len(got)} entries — write {want} entries "
                                         "separated by `|`, none empty"))
    return problems
