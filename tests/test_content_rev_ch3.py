"""Regression lint for chapter 3 (decoding, prompting, retrieval, reasoning): the errors found by the
issue-10 review must not come back, and the worked numbers that figures are drawn from must not drift."""

from __future__ import annotations

import re

import pytest

from conftest import BOOK
from studybook.model import Book, Fragment
from studybook.reader import read_book
from test_content import check_patterns


@pytest.fixture(scope="module")
def book() -> Book:
    return read_book(BOOK)


def text_of(fragment: Fragment) -> str:
    raw = " ".join(p if isinstance(p, str) else (getattr(p, "tex", "") or getattr(p, "text_html", ""))
                   for p in fragment.parts)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", raw))


@pytest.mark.parametrize(("qid", "must", "must_not"), [
    # Q19: the length-normalisation example listed short-vs-long at alpha=0 but long-vs-short at alpha=1.
    ("beam-search", [r"-2\.0 vs\. -4\.2", r"-1\.00 vs\. -0\.70"], [r"-0\.70 vs\. -1\.00"]),
    # Q20: T=1 reproduces the training distribution only for a base model, not for a post-trained assistant.
    ("temperature", [r"base model", r"post-train"],
     [r"T=1[^.]{0,40}(?:the )?distribution the model was trained to predict"]),
    # Q20: min-p was presented as the fix for high-temperature sampling.
    ("temperature", [], [r"min-p[^.]{0,40}designed for high[- ]temperature"]),
    # Q21: min-p's advantage over top-p is disputed (Schaeffer et al., arXiv 2506.13681).
    ("top-k-vs-top-p", [r"min-p[^.]*(?:disput|re-?analysis)", r"re-?analysis"],
     [r"its authors report better quality and diversity than top-p at high temperature\."]),
    # Q24: R1's later stages targeted readability and language mixing AND stronger reasoning and general ability.
    ("chain-of-thought", [r"readability", r"language mixing", r"strengthen reasoning"],
     [r"mainly to make its chains readable", r"mainly (?:for|to)[^.]{0,30}readab"]),
])
def test_chapter3_review_errors_are_not_repeated(book: Book, qid: str, must: list[str], must_not: list[str]):
    check_patterns(book, qid, must, must_not)


@pytest.mark.parametrize(("qid", "numbers"), [
    ("temperature", ["(2,1,0)", "0.867, 0.117, 0.016", "0.665, 0.245, 0.090", "0.506, 0.307, 0.186"]),
    ("top-k-vs-top-p", ["k=20", "p=0.9", "p_{\\text{base}}=0.1", "0.92", "cut-off 0.092", "about 5,000 tail tokens",
                        "cut-off 0.002"]),
])
def test_worked_examples_used_by_figures_are_unchanged(book: Book, qid: str, numbers: list[str]):
    text = text_of(book.question(qid).answer)
    for number in numbers:
        assert number in text, f"{qid}: worked example lost {number!r}"
