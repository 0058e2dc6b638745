"""Content lint for the Chinese edition: complete, in step with the English, one glossary, and
Chinese typography (full-width punctuation, a space between Chinese and Latin text)."""

from __future__ import annotations

import re

import pytest
import yaml

from conftest import BOOK
from studybook.model import Book, Fragment, XRef
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
    html = "".join(p if isinstance(p, str) else prose(p.text) if isinstance(p, XRef) else " " for p in frag.parts)
    html = re.sub(r"<pre\b.*?</pre>|<code\b.*?</code>", " ", html, flags=re.S)
    html = re.sub(r"<a\b[^>]*>", "", html)
    return re.sub(r"<[^>]+>", " ", html).replace("&amp;", "&")


# The words of a formula (\text{…}); Chinese word order may move them ("memory for S" is "S 的内存").
WORDS = re.compile(r"\\text\{[^{}]*\}")


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
    # The formulas are the English ones; only the words inside \text{…} may be translated.
    def maths(q):
        return sorted(WORDS.sub("", m.tex) for m in q.answer.maths)

    for a, b in zip(en.questions, zh.questions, strict=True):
        assert maths(a) == maths(b), a.id
    translated = [m.tex for q in zh.questions for m in q.answer.maths if re.search(f"[{CJK}]", m.tex)]
    assert len(translated) >= 5, "the words of formulas such as 'KV bytes' are translated"


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


def _glossary() -> list[dict]:
    return yaml.safe_load(GLOSSARY.read_text(encoding="utf-8"))


def _book_text(book: Book) -> str:
    return " ".join(prose(frag) for _, frag in units(book))


def test_every_glossary_term_used_is_introduced_with_its_english(zh: Book):
    """The book introduces each glossary term it uses with its English: 键值缓存（KV cache）."""
    text = _book_text(zh)
    missing = []
    for entry in _glossary():
        term = entry["zh"]
        if term.isascii() or term not in text:
            continue
        names = [entry["en"], *([entry["abbr"]] if entry.get("abbr") else [])]
        if not any(re.search(rf"{re.escape(term)}\s*（[^）]*?{re.escape(n[:6])}", text, re.I) for n in names):
            missing.append(f"{term}（{entry['en']}）")
    assert not missing, missing


def test_an_english_term_is_always_given_the_glossarys_chinese(zh: Book):
    """Consistency: wherever the English of a glossary term is given in parentheses, the Chinese
    before it is the glossary's term (or a variant the glossary lists under `also`)."""
    text = _book_text(zh)
    wrong = []
    for entry in _glossary():
        # Compare the Chinese characters only: "KL 散度" is written with a Latin part.
        allowed = [re.sub(f"[^{CJK}]", "", a) for a in (entry["zh"], *entry.get("also", []))]
        for m in re.finditer(rf"([{CJK}]+)\s*（\s*{re.escape(entry['en'])}s?\s*[）,，]", text, re.I):
            if not any(a and m.group(1).endswith(a) for a in allowed):
                wrong.append(f"{m.group(0)} — the glossary says {entry['zh']}")
    assert not wrong, wrong[:30]


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
