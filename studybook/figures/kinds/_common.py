"""Checks for a kind's `data` and `labels`, and small formatting helpers the kinds share.

A validator takes the author's value and returns None when it is fine, or a message
"what is wrong — how to fix it".
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from itertools import pairwise
from string import Formatter
from typing import Any

Validator = Callable[[Any], str | None]


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _describe(lo: float | None, hi: float | None, integer: bool) -> str:
    what = "an integer" if integer else "a number"
    if lo is not None and hi is not None:
        return f"{what} from {lo:g} to {hi:g}"
    if lo is not None:
        return f"{what} of at least {lo:g}"
    if hi is not None:
        return f"{what} of at most {hi:g}"
    return what


def _number_problem(value: Any, lo: float | None, hi: float | None, integer: bool, positive: bool) -> str | None:
    if not _is_number(value) or (integer and not isinstance(value, int)):
        return f"`{value!r}` is not {_describe(lo, hi, integer)}"
    if positive and value <= 0:
        return f"`{value!r}` must be greater than 0"
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        return f"`{value!r}` is outside the range ({_describe(lo, hi, integer)})"
    return None


def number(*, lo: float | None = None, hi: float | None = None, integer: bool = False,
           positive: bool = False) -> Validator:
    def check(value: Any) -> str | None:
        problem = _number_problem(value, lo, hi, integer, positive)
        if problem:
            return f"{problem} — write {_describe(lo, hi, integer)}"
        return None
    return check


def numbers(*, min_len: int = 1, max_len: int | None = None, lo: float | None = None, hi: float | None = None,
            integer: bool = False, positive: bool = False, increasing: bool = False) -> Validator:
    size = f"{min_len} to {max_len}" if max_len else f"at least {min_len}"
    fix = f"write a list of {size} values, each {_describe(lo, hi, integer)}" + (
        ", in increasing order" if increasing else "")

    def check(value: Any) -> str | None:
        if not isinstance(value, list | tuple):
            return f"`{value!r}` is not a list — {fix}"
        if len(value) < min_len or (max_len is not None and len(value) > max_len):
            return f"the list has {len(value)} values — {fix}"
        for item in value:
            problem = _number_problem(item, lo, hi, integer, positive)
            if problem:
                return f"{problem} — {fix}"
        if increasing and any(b <= a for a, b in pairwise(value)):
            return f"the values are not increasing — {fix}"
        return None
    return check


def matrix(*, rows: tuple[int, int | None] = (1, None), cols: tuple[int, int | None] = (1, None),
           lo: float | None = None, hi: float | None = None) -> Validator:
    row_check = numbers(min_len=cols[0], max_len=cols[1], lo=lo, hi=hi)

    def check(value: Any) -> str | None:
        if not isinstance(value, list | tuple) or not value or len(value) < rows[0] or (
                rows[1] is not None and len(value) > rows[1]):
            return "expected a list of rows (a list of lists of numbers) — write [[...], [...], ...]"
        for i, row in enumerate(value):
            problem = row_check(row)
            if problem:
                return f"row {i + 1}: {problem}"
        if len({len(r) for r in value}) != 1:
            return "the rows have different lengths — give every row the same number of values"
        return None
    return check


def mapping_of(fields: Mapping[str, Validator]) -> Validator:
    def check(value: Any) -> str | None:
        if not isinstance(value, Mapping):
            return f"expected a mapping with keys {', '.join(fields)} — write {{{', '.join(fields)}}}"
        for key, validator in fields.items():
            if key not in value:
                return f"missing `{key}` — add `{key}: ...`"
            problem = validator(value[key])
            if problem:
                return f"`{key}`: {problem}"
        extra = sorted(set(value) - set(fields))
        if extra:
            return f"unknown key `{extra[0]}` — use only {', '.join(fields)}"
        return None
    return check


def list_of(item: Validator, *, min_len: int = 1) -> Validator:
    def check(value: Any) -> str | None:
        if not isinstance(value, list | tuple) or len(value) < min_len:
            return f"expected a list of at least {min_len} entries — write [..., ...]"
        for i, entry in enumerate(value):
            problem = item(entry)
            if problem:
                return f"entry {i + 1}: {problem}"
        return None
    return check


def label_key(value: Any) -> str | None:
    if not isinstance(value, str) or not value.isidentifier():
        return f"`{value!r}` is not a label name — write the name of a key in `labels`"
    return None


def placeholders(template: str) -> set[str] | None:
    """The {names} used in a label, or None when the braces are malformed."""
    try:
        return {name for _, name, _, _ in Formatter().parse(template) if name is not None}
    except ValueError:
        return None


def split_list(label: str) -> list[str]:
    """A list label is written `a | b | c`."""
    return [part.strip() for part in label.split("|")]


def fmt_num(value: float, digits: int = 3) -> str:
    """A probability-style number as the text writes it: 0.659, 0.016, 1.000."""
    return f"{value:.{digits}f}"


def sequence(value: Any) -> Sequence[Any]:
    return list(value)


def softmax(logits: Sequence[float], temperature: float = 1.0) -> list[float]:
    """Numerically stable softmax of logits / temperature; masked entries may be -inf."""
    scaled = [z / temperature for z in logits]
    top = max(scaled)
    exps = [math.exp(z - top) if z != -math.inf else 0.0 for z in scaled]
    total = sum(exps)
    return [e / total for e in exps]


def fmt_prob(p: float) -> str:
    """Three decimals, as the handbook's tables write probabilities; tiny values as <0.001."""
    if 0 < p < 0.0005:
        return "<0.001"
    return f"{p:.3f}"
