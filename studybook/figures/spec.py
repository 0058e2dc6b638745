"""The figure spec an author writes in a ```figure block, and its checker.

A block body is YAML with six keys::

    id: softmax-temperature
    kind: softmax_temperature
    caption: One logit vector's softmax at four temperatures.
    alt: Four bar charts ...
    data: {logits: [2.0, 1.0, 0.0], temperatures: [0.1, 0.5, 1.0, 2.0]}
    labels: {x: logit, y: probability, title_fmt: "T = {t}"}

`parse_spec` returns the spec (or None when it cannot be built) and every problem found, each as
``(offset, "what is wrong — how to fix it")``. The offset counts lines from 0 at the first line of
the body (the line after the opening fence), so the author's line is ``fence_line + 1 + offset``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

import yaml

from . import kinds as kinds_registry

SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
KEYS = ("id", "kind", "caption", "alt", "data", "labels")


@dataclass(frozen=True)
class FigureSpec:
    id: str
    kind: str
    caption: str
    alt: str
    data: Mapping[str, Any]
    labels: Mapping[str, str]


def _freeze(value: Any) -> Any:
    """Read-only copies, so a frozen spec's data cannot be changed behind the cache's back."""
    if isinstance(value, Mapping):
        return MappingProxyType({k: _freeze(v) for k, v in value.items()})
    if isinstance(value, list | tuple):
        return tuple(_freeze(v) for v in value)
    return value


def _key_lines(node: yaml.Node, prefix: tuple[str, ...], out: dict[tuple[str, ...], int]) -> None:
    """Map each mapping key path (('data', 'logits'), ...) to the 0-based line it is written on."""
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            if isinstance(key_node, yaml.ScalarNode):
                path = (*prefix, str(key_node.value))
                out.setdefault(path, key_node.start_mark.line)
                _key_lines(value_node, path, out)


def parse_spec(text: str) -> tuple[FigureSpec | None, list[tuple[int, str]]]:
    """Parse and check one figure block body; see the module docstring for the offsets."""
    problems: list[tuple[int, str]] = []
    try:
        raw = yaml.safe_load(text)
        root = yaml.compose(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        line = mark.line if mark is not None else 0
        problem = getattr(exc, "problem", None) or str(exc)
        return None, [(line, f"the figure block is not valid YAML ({problem}) — "
                             "write `key: value` lines; quote values that contain `: ` or `#`")]
    if not isinstance(raw, dict):
        return None, [(0, "the figure block is not a mapping — write the keys id, kind, caption, alt, data "
                          "and labels, one `key: value` per line")]

    lines: dict[tuple[str, ...], int] = {}
    if root is not None:
        _key_lines(root, (), lines)

    def at(*path: str) -> int:
        while path and path not in lines:
            path = path[:-1]
        return lines.get(path, 0)

    for key in raw:
        if key not in KEYS:
            problems.append((at(str(key)), f"unknown key `{key}` in the figure block — "
                                           f"use only {', '.join(KEYS)}"))

    text_values: dict[str, str] = {}
    for key, fix in (("id", "add `id: a-slug` (lowercase words joined by hyphens, unique in the book)"),
                     ("kind", f"add `kind: NAME`, one of {', '.join(kinds_registry.names())}"),
                     ("caption", "add `caption:`, one sentence saying what the figure shows"),
                     ("alt", "add `alt:`, a description of what the figure shows for readers who cannot see "
                             "it, with the key values")):
        value = raw.get(key)
        if value is None or (isinstance(value, str) and not value.strip()):
            problems.append((at(key), f"the figure has no {key} — {fix}"))
        elif not isinstance(value, str):
            problems.append((at(key), f"`{key}` must be text, not {type(value).__name__} — "
                                      "write it as a plain or quoted string"))
        else:
            text_values[key] = value.strip()

    if "id" in text_values and not SLUG.match(text_values["id"]):
        problems.append((at("id"), f"figure id `{text_values['id']}` is not a slug — "
                                   "use lowercase letters, digits and single hyphens"))

    module = None
    if "kind" in text_values:
        module = kinds_registry.get(text_values["kind"])
        if module is None:
            problems.append((at("kind"), f"unknown figure kind `{text_values['kind']}` — "
                                         f"use one of {', '.join(kinds_registry.names())}"))

    data = raw.get("data")
    if data is None:
        problems.append((at("data"), "the figure has no data — add `data: {...}` with the numbers it plots"))
        data = {}
    elif not isinstance(data, dict):
        problems.append((at("data"), "`data` must be a mapping — write `data: {name: value, ...}`"))
        data = {}

    labels = raw.get("labels")
    if labels is None:
        labels = {}
        if module is not None and module.LABELS:
            problems.append((at("labels"), "the figure has no labels — add `labels: {...}`; every word drawn "
                                           "in the figure comes from there"))
    elif not isinstance(labels, dict):
        problems.append((at("labels"), "`labels` must be a mapping of names to text — "
                                       "write `labels: {x: ..., y: ...}`"))
        labels = {}
    else:
        for key, value in labels.items():
            if not isinstance(value, str):
                problems.append((at("labels", str(key)),
                                 f"label `{key}` must be text, not {type(value).__name__} — quote it"))
        labels = {str(k): v for k, v in labels.items() if isinstance(v, str)}

    if module is not None:
        problems.extend((at("data", *path), message) for path, message in kinds_registry.check_data(module, data))
        problems.extend((at("labels", *path), message)
                        for path, message in kinds_registry.check_labels(module, labels, data))

    if problems or module is None:
        return None, problems
    return FigureSpec(id=text_values["id"], kind=text_values["kind"], caption=text_values["caption"],
                      alt=text_values["alt"], data=_freeze(data), labels=_freeze(labels)), []
