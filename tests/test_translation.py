"""Translated editions: the translation overlays the original by id, cannot drift silently, and
each edition is its own deck in one Anki collection. Uses the mini book's zh-CN translation."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from conftest import FIXTURES, run_build
from studybook.reader import read_book

MINI_ZH = FIXTURES / "mini" / "handbook.zh-CN.md"


def _zh(mini_book: Path) -> Path:
    return mini_book.with_name("handbook.zh-CN.md")


def test_the_translation_keeps_the_originals_metadata_and_replaces_its_text():
    en = read_book(FIXTURES / "mini" / "handbook.md")
    zh = read_book(MINI_ZH)
    assert (zh.id, zh.language, zh.slug) == (en.id, "zh-CN", "mini-bank-zh-CN")
    assert [q.id for q in zh.questions] == [q.id for q in en.questions]
    for a, b in zip(en.questions, zh.questions, strict=True):
        assert (a.tags, a.references, a.related, a.difficulty) == (b.tags, b.references, b.related, b.difficulty)
        assert a.title_text != b.title_text
    assert zh.question("attention").title_text == "什么是注意力（attention）？"
    assert zh.references is en.references or zh.references == en.references
    assert zh.question("attention").location.path.endswith("handbook.zh-CN.md")


def test_a_missing_an_extra_and_a_stale_unit_are_reported(mini_book: Path):
    zh = _zh(mini_book)
    text = zh.read_text(encoding="utf-8")
    # Missing: the softmax question is cut; extra: a unit the original does not have.
    cut = text.index("## softmax 做什么？")
    text = (text[:cut] + "## 多出来的问题\n\n```yaml\nid: no-such-question\nsource: 000000000000\n```\n\n"
            "### Answer\n\n多余。\n")
    zh.write_text(text, encoding="utf-8")
    proc = run_build("check", "--source", str(zh))
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert "question 'softmax' of" in proc.stderr and "has no translation" in proc.stderr
    line = text.split("\n").index("id: no-such-question")
    assert re.search(rf"handbook\.zh-CN\.md:{line}: question 'no-such-question' is not in", proc.stderr), proc.stderr


def test_an_edit_of_the_original_makes_the_translation_stale(mini_book: Path, tmp_path: Path):
    mini_book.write_text(mini_book.read_text(encoding="utf-8").replace(
        "Softmax maps logits to a probability distribution.",
        "Softmax maps logits to a probability distribution that sums to one."), encoding="utf-8")
    zh = _zh(mini_book)
    line = zh.read_text(encoding="utf-8").split("\n").index("source: bee2578cf466") + 1
    proc = run_build("check", "--source", str(zh))
    assert proc.returncode == 0, proc.stderr
    assert re.search(rf"handbook\.zh-CN\.md:{line}: warning: question 'softmax' was translated from another "
                     r"version of the original \(source bee2578cf466, the original is now [0-9a-f]{12}\)",
                     proc.stderr), proc.stderr
    strict = run_build("all", "--strict", "--source", str(zh), "--out", str(tmp_path / "out"))
    assert strict.returncode == 1 and not (tmp_path / "out").exists()


@pytest.mark.slow
def test_both_editions_live_in_one_collection_and_update_in_place(tmp_path: Path):
    from anki.collection import Collection, ImportAnkiPackageOptions, ImportAnkiPackageRequest

    out = tmp_path / "dist"
    for source in (FIXTURES / "mini" / "handbook.md", MINI_ZH):
        proc = run_build("anki", "--source", str(source), "--out", str(out), env={"SOURCE_DATE_EPOCH": "1700000000"})
        assert proc.returncode == 0, proc.stderr
    col = Collection(str(tmp_path / "c.anki2"))
    try:
        for name in ("mini-bank-en.apkg", "mini-bank-zh-CN.apkg", "mini-bank-zh-CN.apkg"):
            log = col.import_anki_package(ImportAnkiPackageRequest(package_path=str(out / name),
                                                                   options=ImportAnkiPackageOptions())).log
        assert len(log.new) == 0 and len(log.duplicate) == 2  # the second zh import changes nothing
        assert col.note_count() == 4
        decks = {d.name for d in col.decks.all_names_and_ids()}
        assert "Mini Question Bank::01 Basics" in decks and "迷你题库::01 基础" in decks
        zh_card = col.get_card(col.find_cards('"deck:迷你题库::01 基础"')[0])
        assert "要点" in zh_card.answer() and "Key points" not in zh_card.answer()
        assert len(col.models.all_names_and_ids()) >= 2
    finally:
        col.close()
