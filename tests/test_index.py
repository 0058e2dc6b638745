"""The back-of-book index: authored terms (`index:` in a question's metadata), checked by the
reader, sorted per language, printed by the PDF and the EPUB."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path

import pytest
from pypdf import PdfReader

from conftest import BOOK_ZH, FIXTURES, ROOT, run_build
from studybook import index
from studybook.model import Book
from studybook.reader import read_book

BOOK = ROOT / "content" / "handbook.md"
CJK = re.compile(r"[\u4e00-\u9fff]")


@pytest.fixture(scope="module")
def en() -> Book:
    return read_book(BOOK)


@pytest.fixture(scope="module")
def zh() -> Book:
    return read_book(BOOK_ZH)


def _outline(reader: PdfReader) -> list[tuple[int, str, int]]:
    out = []

    def walk(items, depth):
        for item in items:
            if isinstance(item, list):
                walk(item, depth + 1)
            else:
                title = re.sub(r"\s+", " ", item.title).strip()
                out.append((depth, title, reader.get_destination_page_number(item) + 1))
    walk(reader.outline, 0)
    return out


def entries(book: Book) -> list[index.Entry]:
    return [e for g in index.build(book) for e in g.entries]


def test_the_handbook_has_a_real_index(en: Book):
    all_entries = entries(en)
    located = [e for e in all_entries if not e.see]
    subs = [s for e in all_entries for s in e.subs]
    sees = [e for e in all_entries if e.see]
    assert len(located) + len(subs) >= 100, (len(located), len(subs))
    assert len(subs) >= 15 and len(sees) >= 10
    terms = {e.term for e in all_entries}
    # display forms, not tag slugs
    assert {"AdamW", "KV cache", "BERT", "FlashAttention"} <= terms
    assert not any(re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)+", t) and t.replace("-", " ") in terms for t in terms)
    attention = next(e for e in all_entries if e.term == "attention")
    assert {"causal mask", "scaled dot-product"} <= {s.term for s in attention.subs}
    assert any(e.term == "self-attention" and e.see == "attention" for e in sees)
    for e in sees:
        assert e.see in terms and not e.questions


def test_every_term_is_located_at_a_question_that_discusses_it(en: Book):
    """The locator is the question: its text names the term (or its acronym)."""
    def stems(term: str) -> set[str]:
        words = re.findall(r"[a-z0-9]+", re.sub(r"\s*\([^)]*\)", "", term.lower()))
        return {w[:5] for w in words if len(w) > 2 and w not in {"and", "the", "for", "with"}}

    missing = []
    for q in en.questions:
        text = " ".join([q.title_text, q.key_points.text, q.answer.text]).lower()
        for t in q.index:
            said = {w[:5] for w in re.findall(r"[a-z0-9]+", text)}
            acronym = re.findall(r"\(([A-Za-z0-9]+)\)", t.sub or t.term)
            if t.see or stems(t.sub or t.term) <= said or (acronym and acronym[0].lower()[:5] in said):
                continue
            missing.append((q.id, t.sub or t.term))
    # A few sub-entries are phrased as an index reads ("decoding cost", "cost across languages")
    # and a few terms are named differently in the text ("tied embeddings" for weight tying).
    assert len(missing) <= 7, missing


def test_english_sorts_letter_by_letter_and_groups_by_initial(en: Book):
    groups = index.build(en)
    letters = [g.letter for g in groups]
    assert letters == sorted(letters, key=lambda g: (g != "#", g))
    for g in groups:
        keys = [index.sort_key(e.term, "en") for e in g.entries]
        assert keys == sorted(keys)
        assert all(k[0][:1].upper() == g.letter for k in keys) or g.letter == "#"


def test_chinese_index_is_translated_and_sorted_by_pinyin(zh: Book, en: Book):
    groups = index.build(zh)
    all_entries = [e for g in groups for e in g.entries]
    assert len(all_entries) == len(entries(en))
    translated = [e for e in all_entries if CJK.search(e.term)]
    assert len(translated) >= 0.7 * len(all_entries)
    by_term = {e.term: e for e in all_entries}
    assert "注意力" in by_term and {"因果掩码", "缩放点积"} <= {s.term for s in by_term["注意力"].subs}
    assert by_term["自注意力"].see == "注意力"
    letter_of = {e.term: g.letter for g in groups for e in g.entries}
    assert letter_of["注意力"] == "Z" and letter_of["贝叶斯法则"] == "B"
    assert letter_of["BERT"] == "B"  # Latin-initial terms filed under their letter
    assert letter_of["键值缓存（KV cache）"] == "J"
    assert letter_of["重排序"] == "C" and letter_of["长上下文"] == "C"  # chóng, cháng: not zhòng, zhǎng
    # pinyin order within a group: 贝叶斯 (bei) before 并行性 (bing)
    b = [e.term for e in next(g for g in groups if g.letter == "B").entries]
    assert b.index("贝叶斯法则") < b.index("并行性")
    for g in groups:
        keys = [index.sort_key(e.term, "zh-CN") for e in g.entries]
        assert keys == sorted(keys)


# ---------------------------------------------------------------------------------------------
# Mistakes the build reports


def _mini(tmp_path: Path, entries_yaml: str) -> Path:
    book = tmp_path / "handbook.md"
    for f in (FIXTURES / "mini").iterdir():
        target = tmp_path / f.name
        if f.is_dir():
            import shutil
            shutil.copytree(f, target)
        else:
            target.write_bytes(f.read_bytes())
    text = book.read_text(encoding="utf-8").replace("related: [softmax]\n", "related: [softmax]\n" + entries_yaml, 1)
    book.write_text(text, encoding="utf-8")
    return book


@pytest.mark.parametrize(("entries_yaml", "message"), [
    ("index:\n  - {term: self-attention, see: nothing}\n", "refers to 'nothing', which no question lists"),
    ("index:\n  - attention\n  - attention\n", "listed twice"),
    ("index:\n  - {term: a, sub: b, see: c}\n", "at most one of 'sub', 'see'"),
    ("index:\n  - {name: attention}\n", "is not a term"),
    ("index: attention\n", "'index' must be a list"),
])
def test_index_mistakes_are_reported_at_their_line(tmp_path: Path, entries_yaml: str, message: str):
    book = _mini(tmp_path, entries_yaml)
    proc = run_build("check", "--source", str(book))
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    line = book.read_text(encoding="utf-8").split("\n").index("index:" if "\n  -" in entries_yaml
                                                                else entries_yaml.strip()) + 1
    assert re.search(rf"handbook\.md:{line}: .*{re.escape(message)}", proc.stderr), proc.stderr


def test_an_untranslated_index_term_is_reported(tmp_path: Path):
    book = _mini(tmp_path, "index:\n  - attention\n")
    proc = run_build("check", "--source", str(tmp_path / "handbook.zh-CN.md"))
    assert proc.returncode == 1
    assert "index term 'attention' of" in proc.stderr and "has no translation" in proc.stderr
    assert book.exists()


# ---------------------------------------------------------------------------------------------
# The printed index


@pytest.mark.slow
@pytest.mark.parametrize("edition", ["en", "zh-CN"])
def test_pdf_index_prints_entries_sub_entries_and_pages(edition: str, request):
    dist = request.getfixturevalue("handbook_dist" if edition == "en" else "handbook_zh_dist")
    # The handbook, not the flashcards or the quiz of the same edition.
    reader = PdfReader(next(p for p in dist.glob(f"*-{edition}.pdf")
                            if "-flashcards-" not in p.name and "-quiz-" not in p.name))
    texts = [p.extract_text() or "" for p in reader.pages]
    book = read_book(BOOK if edition == "en" else BOOK_ZH)
    note = "Numbers are the pages" if edition == "en" else "数字为讨论该词条"
    # Chinese lines wrap anywhere: look for the note with the line breaks taken out.
    start = next(i for i, t in enumerate(texts) if note.replace(" ", "") in re.sub(r"\s+", "", t))
    lines = [line.strip() for t in texts[start:] for line in t.split("\n")]
    text = re.sub(r"\s+", " ", " ".join(lines))
    # the page each question starts on, from the PDF's own bookmarks
    starts = {title: page for _, title, page in _outline(reader)}
    checked = 0
    for e in entries(book):
        if e.see or not e.questions:
            continue
        found = [m for line in lines if (m := re.fullmatch(re.escape(e.term) + r"\s*(\d+(?:\s*[,，]\s*\d+)*)", line))]
        if not found:
            continue  # a long entry wrapped onto two lines
        pages = [int(p) for p in re.findall(r"\d+", found[0].group(1))]
        want = sorted({starts[f"Q{q.number}. {q.title_text}"] for q in e.questions})
        assert pages == want, (e.term, pages, want)
        checked += 1
    assert checked >= 50
    see = "see" if edition == "en" else "见"
    assert re.search(rf"{'self-attention' if edition == 'en' else '自注意力'}\W+{see} ", text)


@pytest.mark.slow
@pytest.mark.parametrize("edition", ["en", "zh-CN"])
def test_epub_index_page_links_every_locator_to_its_question(edition: str, request):
    dist = request.getfixturevalue("handbook_dist" if edition == "en" else "handbook_zh_dist")
    with zipfile.ZipFile(next(dist.glob(f"*-{edition}.epub"))) as z:
        names = z.namelist()
        page = ET.fromstring(z.read("OEBPS/index.xhtml"))
        ids = set()
        for name in names:
            if name.endswith(".xhtml"):
                ids |= {(name.rsplit("/", 1)[-1], el.get("id")) for el in ET.fromstring(z.read(name)).iter()
                        if el.get("id")}
        nav = z.read("OEBPS/nav.xhtml").decode()
    xh = "{http://www.w3.org/1999/xhtml}"
    links = [a.get("href") for a in page.iter(f"{xh}a")]
    assert len(links) >= 100
    for href in links:
        file, _, anchor = href.partition("#")
        assert (file, anchor) in ids, href
    assert 'href="index.xhtml"' in nav and 'epub:type="index"' in nav
    book = read_book(BOOK if edition == "en" else BOOK_ZH)
    text = "".join(page.itertext())
    assert all(e.term in text for e in entries(book))
