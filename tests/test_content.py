"""Content lint for the handbook itself: complete, well-formed, and free of the source's known errors."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest

from conftest import BOOK
from studybook.markup import word_count
from studybook.model import Book, Fragment, XRef
from studybook.reader import read_book

TOPICS = [
    ("core-architecture", 12), ("training-fine-tuning", 6), ("generation-decoding-reasoning", 6),
    ("training-paradigms", 7), ("math-optimization", 11), ("advanced-models", 5), ("applications-ethics", 3),
]
# The nine formulas the source article lost, by question id.
RESTORED_FORMULAS = ["softmax-in-attention", "dot-product-attention", "cross-entropy-loss", "embedding-gradients",
                     "kl-divergence", "relu-derivative", "chain-rule", "attention-scores"]


@pytest.fixture(scope="module")
def book() -> Book:
    return read_book(BOOK)


def text_of(fragment: Fragment) -> str:
    raw = " ".join(p if isinstance(p, str) else text_of(p.text) if isinstance(p, XRef) else getattr(p, "tex", "")
                   for p in fragment.parts)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", raw))


def test_fifty_questions_in_seven_topics(book: Book):
    assert [(t.id, len(t.questions)) for t in book.topics] == TOPICS
    assert [q.number for q in book.questions] == list(range(1, 51))
    assert book.topic("generation-decoding-reasoning").title_text.lower().count("reason") >= 1
    assert book.sections and book.sections[0].id == "preface"


def test_every_question_is_complete(book: Book):
    for q in book.questions:
        bullets = sum(1 for p in q.key_points.parts if isinstance(p, str) for _ in re.finditer("<li>", p))
        words = word_count(q.key_points)
        assert bullets <= 5 and words <= 75, f"{q.id}: key points too long ({bullets} bullets, {words} words)"
        assert 180 <= word_count(q.answer) <= 900, f"{q.id}: answer has {word_count(q.answer)} words"
        assert q.references, f"{q.id}: no reference"
        assert q.related, f"{q.id}: no related question"
        assert q.difficulty in ("easy", "medium", "hard")


def test_chapters_have_intros_and_key_papers(book: Book):
    for topic in book.topics:
        assert 15 <= word_count(topic.intro) <= 150, topic.id
        assert topic.key_papers, topic.id


def test_lost_formulas_are_restored(book: Book):
    for qid in RESTORED_FORMULAS:
        maths = book.question(qid).answer.maths
        assert any(m.display for m in maths), f"{qid}: no display formula"
    dot = [m.tex.replace("{", "").replace("}", "") for m in book.question("dot-product-attention").answer.maths]
    assert any(r"\sqrtd_k" in tex for tex in dot) and any("n^2" in tex for tex in dot)


def test_no_placeholder_text():
    text = BOOK.read_text(encoding="utf-8")
    for marker in ("TODO", "TBD", "FIXME", "XXX", "lorem ipsum", "???", "[citation needed]"):
        assert marker not in text, marker


def test_no_sentence_repeated_across_answers(book: Book):
    owners: dict[str, set[str]] = {}
    for q in book.questions:
        for part in (q.key_points, q.answer):
            for sentence in re.split(r"(?<=[.!?])\s+", text_of(part)):
                norm = sentence.strip().lower()
                if len(norm.split()) >= 6:
                    owners.setdefault(norm, set()).add(q.id)
    repeated = {s: ids for s, ids in owners.items() if len(ids) > 1}
    assert not repeated, repeated


def test_every_bibliography_entry_is_used_and_canonical(book: Book):
    used = set(book.cited_keys())
    assert set(book.references) == used, f"unused entries: {sorted(set(book.references) - used)}"
    for ref in book.references.values():
        scheme = "https?" if ref.type == "webpage" else "https"
        assert re.match(scheme + r"://(arxiv\.org/abs/\d{4}\.\d{4,5}$|doi\.org/|[\w.-]+/)", ref.url), ref.url


def check_patterns(book: Book, qid: str, must: list[str], must_not: list[str]) -> None:
    """A question's key points and answer say what `must` matches and nothing `must_not` matches
    (a known error of the source article or of an earlier draft)."""
    q = book.question(qid)
    text = text_of(q.key_points) + " " + text_of(q.answer)
    for pattern in must:
        assert re.search(pattern, text, re.I), f"{qid}: expected /{pattern}/"
    for pattern in must_not:
        assert not re.search(pattern, text, re.I), f"{qid}: repeats a known error /{pattern}/"


@pytest.mark.parametrize(("qid", "must", "must_not"), [
    # Corrections of the source article (content brief §4); a regression here is a factual error.
    ("gpt4-vs-gpt3", [r"2,048", r"8,192|8K", r"32,768|32K"], [r"GPT-3[^.]{0,40}4,096"]),
    ("lora-vs-qlora", [r"65B|65-billion|65 billion", r"48 ?GB", r"NF4|NormalFloat"], [r"70B[^.]{0,30}single"]),
    ("beam-search", [r"divers"], [r"balanc\w* (?:between )?(?:probability|likelihood) and diversity"]),
    ("next-sentence-prediction", [r"RoBERTa", r"ALBERT|sentence-order"], []),
    ("llm-vs-statistical-lm", [r"count", r"unlabell?ed"],
     [r"n-?grams?\s+(?:models?\s+)?(?:use|rely on|depend on|are)\s+(?:\w+\s+){0,2}supervised"]),
    ("tokenization", [r"art", r"ificial"], [r"art ?\| ?ific ?\| ?ial", r"\bart\b[^.]{0,5}\bific\b[^.]{0,5}\bial\b"]),
    ("out-of-vocabulary", [r"crypt", r"ocurrency"],
     [r"(?<!not )(?<!not .)crypto\W{0,2}\s?(?:\||\+)\s?\W{0,2}currency"]),
    ("embeddings", [r"random"], [r"initiali[sz]ed (?:from|with) GloVe"]),
    ("relu-derivative", [r"GELU", r"SwiGLU"], []),
    ("mixture-of-experts", [r"per token|each token", r"137"], [r"Shazeer[^.]{0,80}trillion"]),
    ("attention-mechanism", [r"quer\w+ (?:and|with) (?:every |each )?keys?"],
     [r"similarity[^.]{0,40}quer\w+, keys?,? and values"]),
])
def test_known_source_errors_are_not_repeated(book: Book, qid: str, must: list[str], must_not: list[str]):
    check_patterns(book, qid, must, must_not)


def test_whole_book_free_of_blurb_errors():
    text = BOOK.read_text(encoding="utf-8")
    assert not re.search(r"MIT[^.\n]{0,40}(?:wrote|authored|compiled) the questions", text)
    assert not re.search(r"ResNet[^.\n]{0,80}solv\w+ (?:the )?vanishing", text, re.I)
    assert Counter(re.findall(r"^## ", text, re.M))["## "] == 50


@pytest.mark.slow
def test_the_real_deck_imports_with_fifty_notes(tmp_path: Path, handbook_dist: Path):
    from anki.collection import Collection, ImportAnkiPackageOptions, ImportAnkiPackageRequest

    (tmp_path / "col").mkdir()
    col = Collection(str(tmp_path / "col" / "collection.anki2"))
    try:
        deck = handbook_dist / "llm-interview-handbook-en.apkg"
        log = col.import_anki_package(ImportAnkiPackageRequest(package_path=str(deck),
                                                               options=ImportAnkiPackageOptions())).log
        assert len(log.new) == 50 and col.note_count() == 50
        topic_decks = [d.name for d in col.decks.all_names_and_ids() if d.name.count("::") == 1]
        assert len(topic_decks) == 7
        for cid in col.find_cards(""):
            card = col.get_card(cid)
            body = card.answer().split("</style>", 1)[1]
            assert "{{" not in body and "Key points" in body
    finally:
        col.close()
