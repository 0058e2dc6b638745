"""Content lint for the Chinese edition: complete, in step with the English, one glossary, and
Chinese typography (full-width punctuation, a space between Chinese and Latin text)."""

from __future__ import annotations

import re

import pytest
import yaml

from conftest import BOOK
from studybook.model import Book, Fragment
from studybook.reader import read_book

ZH = BOOK.with_name("handbook.zh-CN.md")
GLOSSARY = BOOK.with_name("glossary.zh-CN.yaml")
CJK = "\u3400-\u4dbf\u4e00-\u9fff"
# A Chinese character touching a Latin letter or digit (no space between them).
TIGHT = re.compile(rf"[{CJK}][A-Za-z0-9]|[A-Za-z0-9][{CJK}]")
# Half-width punctuation right after a Chinese character.
HALF = re.compile(rf"[{CJK}][,;:?!]|[{CJK}]\((?!\s)|[{CJK}]\.(?!\d)")


@pytest.fixture(scope="module")
def zh() -> Book:
    return read_book(ZH)


@pytest.fixture(scope="module")
def en() -> Book:
    return read_book(BOOK)


def prose(frag: Fragment) -> str:
    """The running text a reader sees, without code, formulas or link targets."""
    html = "".join(p if isinstance(p, str) else " " for p in frag.parts)
    html = re.sub(r"<pre\b.*?</pre>|<code\b.*?</code>", " ", html, flags=re.S)
    html = re.sub(r"<a\b[^>]*>", "", html)
    return re.sub(r"<[^>]+>", " ", html).replace("&amp;", "&")


def units(book: Book) -> list[tuple[str, Fragment]]:
    out = [(s.id, f) for s in book.sections for f in (s.title, s.body)]
    for t in book.topics:
        out += [(t.id, t.title), (t.id, t.intro)]
        out += [(q.id, f) for q in t.questions for f in (q.title, q.key_points, q.answer)]
    return out


def test_every_unit_is_translated_and_in_step(zh: Book, en: Book):
    assert [q.id for q in zh.questions] == [q.id for q in en.questions]
    assert zh.language == "zh-CN" and zh.title != en.title
    for (uid, a), (_, b) in zip(units(en), units(zh), strict=True):
        if a.text.strip():
            assert re.search(f"[{CJK}]", b.text), f"{uid}: not translated: {b.text[:80]!r}"
    # The formulas are the English ones, unchanged.
    for a, b in zip(en.questions, zh.questions, strict=True):
        assert sorted(m.tex for m in a.answer.maths) == sorted(m.tex for m in b.answer.maths), a.id


def test_chinese_and_latin_text_are_spaced_and_punctuation_is_full_width(zh: Book):
    tight, half = [], []
    for uid, frag in units(zh):
        text = prose(frag)
        tight += [f"{uid}: …{text[max(m.start() - 8, 0):m.end() + 8]}…" for m in TIGHT.finditer(text)]
        half += [f"{uid}: …{text[max(m.start() - 8, 0):m.end() + 8]}…" for m in HALF.finditer(text)]
    assert not tight, tight[:20]
    assert not half, half[:20]


def test_emphasis_renders_next_to_chinese_punctuation(zh: Book):
    """`**粗体。**后文` is not bold in CommonMark (the closing ** follows punctuation and precedes a
    letter): the asterisks would print. Put the punctuation outside: `**粗体**。`"""
    stray = [f"{uid}: {prose(frag)[:80]!r}" for uid, frag in units(zh) if "**" in prose(frag) or "__" in prose(frag)]
    assert not stray, stray[:10]


def test_glossary_terms_are_introduced_with_their_english_name(zh: Book):
    """A glossary term used in a question is introduced there with its English at least once:
    键值缓存（KV cache）. Single characters (键, 值) and terms shared by two entries (推理 for both
    inference and reasoning) are left to the reviewer: a substring test cannot judge them."""
    glossary = yaml.safe_load(GLOSSARY.read_text(encoding="utf-8"))
    terms = [e["zh"] for e in glossary]
    longer = {t: [u for u in terms if t in u and u != t] for t in terms}
    missing = []
    for q in zh.questions:
        text = prose(q.title) + " " + prose(q.key_points) + " " + prose(q.answer)
        for entry in glossary:
            term = entry["zh"]
            if len(term) < 2 or term.isascii() or terms.count(term) > 1:
                continue
            names = [entry["en"], *([entry["abbr"]] if entry.get("abbr") else [])]
            inside = [(m.start(), m.end()) for u in longer[term] for m in re.finditer(re.escape(u), text)]
            uses = [m.start() for m in re.finditer(re.escape(term), text)
                    if not any(a <= m.start() and m.end() <= b for a, b in inside)]
            glossed = any(re.match(rf"\s*（\s*{re.escape(n)}", text[u + len(term):u + len(term) + 60], re.I)
                          for u in uses for n in names)
            if uses and not glossed:
                missing.append(f"{q.id}: {term}（{entry['en']}）")
    assert not missing, missing[:30]


def test_translation_is_not_the_seed_article():
    """No sentence of eight or more characters is shared with the source article."""
    seed_dir = BOOK.parent.parent.parent / "shared" / "seed"
    seed = "".join(p.read_text(encoding="utf-8") for p in seed_dir.glob("*.txt")) \
        if seed_dir.is_dir() else ""
    if not seed:
        pytest.skip("the seed article is not on this machine")
    text = ZH.read_text(encoding="utf-8")
    shared = [s for s in re.split(r"[。！？\n]", text) if len(s.strip()) >= 20 and s.strip() in seed]
    assert not shared, shared[:5]
