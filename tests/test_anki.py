"""The deck, imported and studied with the real Anki engine (PyPI `anki`, headless)."""

from __future__ import annotations

import os
import re
import time
import zipfile
from pathlib import Path

import pytest
from anki.collection import Collection, ImportAnkiPackageOptions, ImportAnkiPackageRequest

from conftest import run_build
from studybook.reader import read_book


def build_deck(source: Path, out: Path, sde: str | None = None) -> Path:
    if sde is None:
        proc = run_build("anki", "--source", str(source), "--out", str(out), unset=("SOURCE_DATE_EPOCH",))
    else:
        proc = run_build("anki", "--source", str(source), "--out", str(out), env={"SOURCE_DATE_EPOCH": sde})
    assert proc.returncode == 0, proc.stderr
    (deck,) = out.glob("*.apkg")
    return deck


def import_deck(col: Collection, deck: Path):
    # Default options = what a learner gets from File > Import: update notes only if newer.
    request = ImportAnkiPackageRequest(package_path=str(deck), options=ImportAnkiPackageOptions())
    return col.import_anki_package(request).log


@pytest.fixture
def collection(tmp_path: Path):
    (tmp_path / "collection").mkdir()
    col = Collection(str(tmp_path / "collection" / "collection.anki2"))
    yield col
    col.close()


def test_deck_imports_with_every_card_rendering(mini_book: Path, tmp_path: Path, collection: Collection):
    book = read_book(mini_book)
    deck = build_deck(mini_book, tmp_path / "out", sde="1700000000")
    assert deck.name == "mini-bank-en.apkg"
    log = import_deck(collection, deck)
    assert len(log.new) == len(book.questions) == 2
    assert collection.note_count() == 2 and collection.card_count() == 2

    names = {d.name for d in collection.decks.all_names_and_ids()}
    assert {"Mini Question Bank::01 Basics", "Mini Question Bank::02 Maths"} <= names

    note = collection.get_note(collection.find_notes("ID:attention")[0])
    assert set(note.tags) == {"topic::basics", "difficulty::medium", "attention", "transformer"}
    assert collection.decks.name(note.cards()[0].did) == "Mini Question Bank::01 Basics"

    for cid in collection.find_cards(""):
        card = collection.get_card(cid)
        question, answer = card.question(), card.answer()
        for html in (question, answer):
            body = html.split("</style>", 1)[1]
            assert "{{" not in body and "error" not in body.lower()
        assert card.note()["Question"] in question
        # Key points come before the full answer on the back.
        assert answer.index("Key points") < answer.index('class="answer"')

    answer = collection.get_note(collection.find_notes("ID:attention")[0]).cards()[0].answer()
    # Too wide for a phone's card: broken before "=" into MathJax's `aligned`, the rest indented.
    assert (r"\[\begin{aligned}&amp;\operatorname{Attention}(Q,K,V)\\&amp;\quad =\operatorname{softmax}" in answer
            and r"\(s = q^\top k / \sqrt{d_k}\)" in answer)
    # The full answer and the references are one tap away, below the key points.
    assert answer.index("Key points") < answer.index('<details class="more full-answer">\n<summary>Full answer')
    assert answer.index("</details>") < answer.index('<details class="more references">')
    assert '<a href="https://arxiv.org/abs/1706.03762">' in answer
    assert '<span class="n">scores</span>' in answer and "style=" not in answer.split("</style>")[1]
    assert "(Q2)" in answer  # link to another question shows its number
    # Sanitised: no script, no event handler, no javascript: URL survives.
    assert "<script" not in answer.split("</style>")[1]
    assert "onclick" not in answer and "javascript:" not in answer

    media = Path(collection.media.dir())
    svgs = sorted(p.name for p in media.iterdir() if p.suffix == ".svg")
    assert [re.sub(r"[0-9a-f]{12}", "H", n) for n in svgs] == ["fig-softmax-temperature-H.svg", "grid-H.svg"]
    # The image is in the attention note, the drawn figure in the softmax note; both are media.
    assert f'src="{svgs[1]}"' in answer
    softmax = collection.get_note(collection.find_notes("ID:softmax")[0]).cards()[0].answer()
    assert f'src="{svgs[0]}"' in softmax


def test_new_cards_follow_source_order(mini_book: Path, tmp_path: Path, collection: Collection):
    import_deck(collection, build_deck(mini_book, tmp_path / "out", sde="1700000000"))
    order = [collection.get_card(c).note()["ID"] for c in sorted(
        collection.find_cards(""), key=lambda c: collection.get_card(c).due)]
    assert order == ["attention", "softmax"]


def test_same_source_and_epoch_give_identical_bytes(mini_book: Path, tmp_path: Path):
    first = build_deck(mini_book, tmp_path / "a", sde="1700000000").read_bytes()
    time.sleep(1.1)
    second = build_deck(mini_book, tmp_path / "b", sde="1700000000").read_bytes()
    assert first == second
    with zipfile.ZipFile(tmp_path / "a" / "mini-bank-en.apkg") as zf:
        assert {i.date_time for i in zf.infolist()} == {time.gmtime(1700000000)[:6]}


def test_edit_rebuild_reimport_updates_in_place(mini_book: Path, tmp_path: Path, collection: Collection):
    """An author edits an uncommitted answer, rebuilds, re-imports: same notes, history kept."""
    deck = build_deck(mini_book, tmp_path / "v1")  # no SOURCE_DATE_EPOCH: content mtime decides
    assert len(import_deck(collection, deck).new) == 2

    # Study both cards so there is review history to lose.
    collection.decks.select(collection.decks.id_for_name("Mini Question Bank"))
    for _ in range(2):
        card = collection.sched.getCard()
        collection.sched.answerCard(card, 3)
    reviews_before = collection.db.scalar("select count() from revlog")
    cards_before = {c: (collection.get_card(c).ivl, collection.get_card(c).type)
                    for c in collection.find_cards("")}
    assert reviews_before == 2

    text = mini_book.read_text(encoding="utf-8")
    mini_book.write_text(text.replace("Softmax maps logits", "Softmax turns logits"), encoding="utf-8")
    later = time.time() + 120
    os.utime(mini_book, (later, later))
    log = import_deck(collection, build_deck(mini_book, tmp_path / "v2"))

    # Only the edited note is newer (its time comes from the note lock, see test_note_lock.py).
    assert len(log.new) == 0 and [n.fields[0] for n in log.duplicate] == ["attention"]
    assert [n.fields[0] for n in log.updated] == ["softmax"]
    assert collection.note_count() == 2 and collection.card_count() == 2
    note = collection.get_note(collection.find_notes("ID:softmax")[0])
    assert "Softmax turns logits" in note["KeyPoints"]
    assert collection.db.scalar("select count() from revlog") == reviews_before
    assert {c: (collection.get_card(c).ivl, collection.get_card(c).type)
            for c in collection.find_cards("")} == cards_before


def test_changing_an_answer_keeps_note_identity(mini_book: Path, tmp_path: Path):
    from studybook.render.anki import note_guid
    book = read_book(mini_book)
    guids = {q.id: note_guid(book, q.id) for q in book.questions}
    mini_book.write_text(mini_book.read_text().replace("What does softmax do?", "What is softmax?"))
    edited = read_book(mini_book)
    assert {q.id: note_guid(edited, q.id) for q in edited.questions} == guids
    assert len(set(guids.values())) == len(guids)
