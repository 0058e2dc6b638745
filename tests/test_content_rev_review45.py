"""Regression lint for the second reading of chapters 4 and 5 (issue 10, Q25-Q42).

Each case is a problem the second reader fixed; a match means it has come back."""

from __future__ import annotations

import pytest

from conftest import BOOK
from studybook.model import Book
from studybook.reader import read_book
from test_content import check_patterns


@pytest.fixture(scope="module")
def book() -> Book:
    return read_book(BOOK)


@pytest.mark.parametrize(("qid", "must", "must_not"), [
    # Q32: linear attention (Katharopoulos et al., as Q33 defines it) keeps a normaliser; what it drops is
    # the softmax.
    ("softmax-in-attention", [r"Linear attention, which drops the softmax"], [r"drops the normali[sz]er"]),
    # Q40 agrees with Q18: Muon treats hidden weight matrices only, and MuonClip's clip is QK-Clip on
    # attention logits, not a clipped update.
    ("chain-rule", [r"hidden weight matri", r"MuonClip[^.]{0,60}attention logits"], [r"clipped variant"]),
    # Q27 agrees with Q3 on context sizes (128K-1M as of late 2025), and dates the claim.
    ("next-sentence-prediction", [r"128K[^.]{0,40}or more", r"as of late 2025"],
     [r"thousands to hundreds of thousands of tokens"]),
    # Symbol glosses must be the handbook's own words, not the content brief's.
    ("cross-entropy-loss", [], [r"For a target distribution \S+ and a model distribution"]),
    ("embedding-gradients", [], [r"is embedded by lookup"]),
    ("kl-divergence", [], [r"the LLM being tuned", r"the frozen reference"]),
])
def test_second_reading_fixes_hold(book: Book, qid: str, must: list[str], must_not: list[str]):
    check_patterns(book, qid, must, must_not)
