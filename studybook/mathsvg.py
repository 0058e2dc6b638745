"""Formulas as pictures: one drawing per formula, the same for every output that needs one.

ziamath (pure Python, no TeX installation) draws the validated MathML of a formula with its
bundled STIX Two Math font as SVG paths: the PDF places the picture on the text's baseline, the
EPUB offers it as the `altimg` fallback of its MathML. Both get the same bytes and the same size in
em, so a formula cannot be 5 em tall in one edition and 50 in another. The pictures are SVG 1.1
(`xlink:href`), which every EPUB reading system and WeasyPrint understand.

The math font has no CJK. A character it lacks (the Chinese of `\text{字节}` in the zh-CN edition) is
drawn from a text font instead, Noto Serif CJK SC as found by fontconfig, the face the Chinese body
text is set in: `_install_fallback` gives ziamath's font lookup that second font. ziafont reads neither
font collections (.ttc) nor CID-keyed CFF, the form Noto CJK ships in, so the glyphs a formula needs
are copied with fontTools into a small name-keyed CFF font first.

`draw_all` runs before any renderer, as part of checking the book: a formula ziamath cannot draw
(an unknown command, a character the math font lacks) is a problem at the formula's `path:line`
for `check` as much as for a build.
"""

from __future__ import annotations

import concurrent.futures
import ctypes
import dataclasses
import functools
import hashlib
import json
import multiprocessing
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import tempfile
import threading
import time
import warnings
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from html import escape
from pathlib import Path
from typing import cast

from . import mathspacing
from .diagnostics import BuildError, Problems
from .formula_cache import FormulaCache, renderer_fingerprint
from .model import Book, Math

# ziamath lays out at this many px per em; the picture is then sized in em.
_SIZE = 20.0
# STIX Two has a smaller x-height than Noto Serif: enlarge math slightly so letters match.
SCALE = 1.1
_EM = _SIZE / SCALE
_MARGIN = 0.5  # px of ziamath's margin around the drawing
_PRECISION = 3  # ziamath's glyph coordinates have three decimals; more would only add noise
_UNKNOWN = re.compile(r">\s*(\\[A-Za-z]+)\s*<")
_PER_WORKER = 40  # below this many formulas per process, starting processes costs more than it saves

# What ziamath's own LaTeX front end does to latex2mathml's output before drawing it: arrows and
# angle brackets that TeX never stretches, and accents drawn with the font's combining glyphs.
_MATHML_FIXES = [
    (re.compile(r">&#x02191;"), r' stretchy="false">&#x02191;'),
    (re.compile(r">&#x02193;"), r' stretchy="false">&#x02193;'),
    (re.compile(r"<mi>&#x027E8;"), r'<mi stretchy="false">&#x027E8;'),
    (re.compile(r"<mi>&#x027E9;"), r'<mi stretchy="false">&#x027E9;'),
    (re.compile(r'<mo stretchy="false">&#x0005E;'), r'<mo stretchy="false">&#710;'),
    (re.compile(r"<mo>&#x0005E;"), r"<mo>&#x00302;"),
    (re.compile(r"<mo>&#x0007E;"), r"<mo>&#x00303;"),
    (re.compile(r'columnspacing="0em 2em"'), r'columnspacing="0em 0.3em"'),
    # ziamath's operator table makes large operators stretchy: next to \left…\right fences a
    # subscripted sum then grows to the row's height, the row grows with it, and so on (a 50 em
    # tall formula). TeX never stretches them; display style still picks the large variant.
    (re.compile(r"<mo>(&#x0220[F];|&#x0221[01];|&#x0222[B-F];|&#x0223[0-3];|&#x022C[0-3];|&#x02A0[0-6];)</mo>"),
     r'<mo stretchy="false">\1</mo>'),
]


@dataclass(frozen=True)
class MathPicture:
    key: str  # stable name of the picture: a hash of the formula
    svg: bytes
    alt: str  # the LaTeX source, on one line
    display: bool
    width_em: float
    height_em: float
    depth_em: float  # distance from the baseline down to the picture's bottom edge


class DrawError(ValueError):
    pass


# The face formula text falls back to: the zh-CN body face (fontconfig pattern, see templates/pdf).
FALLBACK_PATTERN = "Noto Serif CJK SC:style=Regular:lang=zh-cn"


@functools.cache
def _fallback_source() -> object | None:
    """The installed fallback face as a lazily read fontTools font, or None if there is none."""
    if shutil.which("fc-match") is None:
        return None
    out = subprocess.run(["fc-match", "--format", "%{file}\n%{index}\n%{family[0]}", FALLBACK_PATTERN],
                         capture_output=True, text=True, check=False).stdout.split("\n")
    if len(out) < 3 or "CJK" not in out[2]:  # fc-match always answers; a Latin face is no fallback
        return None
    from fontTools.ttLib import TTFont

    return TTFont(out[0], fontNumber=int(out[1] or 0), lazy=True)


@functools.cache
def _fallback_font(chars: frozenset[str]) -> object | None:
    """A ziafont font holding the fallback face's glyphs for `chars` (those it has), or None."""
    src = _fallback_source()
    if src is None:
        return None
    import ziafont
    from fontTools.fontBuilder import FontBuilder
    from fontTools.pens.t2CharStringPen import T2CharStringPen

    cmap = src.getBestCmap()  # type: ignore[attr-defined]
    glyphs = src.getGlyphSet()  # type: ignore[attr-defined]
    hmtx = src["hmtx"]  # type: ignore[index]
    names = {".notdef": ".notdef"} | {f"u{ord(ch):04X}": cmap[ord(ch)]
                                      for ch in sorted(chars) if ord(ch) in cmap}
    if len(names) == 1:
        return None
    charstrings, metrics = {}, {}
    for name, source in names.items():
        pen = T2CharStringPen(hmtx[source][0], glyphs)
        glyphs[source].draw(pen)
        charstrings[name], metrics[name] = pen.getCharString(), hmtx[source]
    builder = FontBuilder(src["head"].unitsPerEm, isTTF=False)  # type: ignore[index]
    builder.setupGlyphOrder(list(names))
    builder.setupCharacterMap({int(name[1:], 16): name for name in names if name != ".notdef"})
    builder.setupCFF("StudybookMathText", {"FullName": "StudybookMathText"}, charstrings, {})
    builder.setupHorizontalMetrics(metrics)
    hhea = src["hhea"]  # type: ignore[index]
    builder.setupHorizontalHeader(ascent=hhea.ascent, descent=hhea.descent)
    builder.setupNameTable({"familyName": "StudybookMathText", "styleName": "Regular"})
    builder.setupOS2()
    builder.setupPost()
    with tempfile.TemporaryDirectory() as tmp:  # ziafont reads the whole file when it opens it
        path = os.path.join(tmp, "fallback.otf")
        builder.save(path)
        return ziafont.Font(path)


def _install_fallback(mathfont: object, fallback: object | None) -> None:
    """Make ziamath's glyph lookup take a character the math font lacks from `fallback`.

    A documented monkeypatch: ziamath 0.13 has a text font only for its Text class (mixed text and
    $math$), none for <mtext> inside a formula, and draws an empty box for a missing glyph."""
    original: Callable = type(mathfont).findglyph  # type: ignore[attr-defined]

    def findglyph(char: str, variant: object) -> object:
        if (fallback is not None and mathfont.glyphindex(char) == 0  # type: ignore[attr-defined]
                and fallback.glyphindex(char)):  # type: ignore[attr-defined]
            return fallback.glyph(char)  # type: ignore[attr-defined]
        return original(mathfont, char, variant)

    mathfont.findglyph = findglyph  # type: ignore[attr-defined]


def key(m: Math) -> str:
    return _key(m.tex, m.display)


def _key(tex: str, display: bool) -> str:
    return hashlib.sha256(f"{'D' if display else 'I'}\x1f{tex}".encode()).hexdigest()[:16]


def alttext(tex: str) -> str:
    return " ".join(tex.split())


def prepare(mathml: str) -> str:
    """Set ziamath up exactly as every drawing needs it for `mathml` (spacing patches, precision,
    a CJK fallback for the characters the math font lacks) and return the MathML to lay out.

    Whoever lays a formula out with ziamath goes through here — the drawing and the phone line
    breaker's measurements alike — so a result never depends on what else the process drew
    before (with every picture from the cache, nothing else would have set ziamath up).
    """
    with warnings.catch_warnings():  # ziamath locates its font with the deprecated pkg_resources
        warnings.simplefilter("ignore", DeprecationWarning)
        import ziamath  # imported lazily: loading the math font takes a moment

    mathspacing.install()
    ziamath.config.precision = _PRECISION
    ziamath.config.svg2 = False
    for pattern, replacement in _MATHML_FIXES:
        mathml = pattern.sub(replacement, mathml)
    unknown = sorted(set(_UNKNOWN.findall(mathml)))
    if unknown:
        raise DrawError(f"unknown command {', '.join(unknown)}")
    mathfont = ziamath.zmath.loadedfonts["default"]
    lacking = frozenset(ch for ch in _text(mathml) if not ch.isspace() and mathfont.glyphindex(ch) == 0)
    fallback = _fallback_font(lacking) if lacking else None
    _install_fallback(mathfont, fallback)
    missing = _missing_glyphs(mathml, fallback)
    if missing:
        raise DrawError(f"neither the math font nor {FALLBACK_PATTERN.split(':')[0]} has a glyph for {missing}")
    return mathml


def draw(tex: str, display: bool, mathml: str) -> MathPicture:
    """Draw `mathml` (the validated MathML of `tex`); raise DrawError saying what is wrong."""
    import ziamath

    mathml = prepare(mathml)
    try:
        formula = ziamath.Math(mathml, size=_SIZE, margin=_MARGIN)
        svg = formula.svg()
        ymin = formula.node.bbox.ymin
    except Exception as exc:  # ziamath raises many unrelated types on bad input
        detail = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        raise DrawError(detail) from None
    if re.match(r"^<svg\b[^>]*/>", svg):  # ziamath writes an empty picture as <svg …/>
        raise DrawError("the formula draws nothing (only spacing or phantoms)")
    # The title names the picture for assistive technology and is what copy-paste finds.
    svg = re.sub(r"^(<svg\b[^>]*>)", lambda g: f"{g.group(1)}<title>{escape(alttext(tex), quote=False)}</title>",
                 svg)
    data = ('<?xml version="1.0" encoding="UTF-8"?>\n' + svg + "\n").encode("utf-8")
    root = ET.fromstring(data)
    width, height = float(root.attrib["width"]), float(root.attrib["height"])
    # The viewBox starts at -(ymax + margin): the baseline is `margin - ymin` above the bottom.
    depth = _MARGIN - ymin
    return MathPicture(
        key=_key(tex, display),
        svg=data, alt=alttext(tex), display=display,
        width_em=round(width / _EM, 4), height_em=round(height / _EM, 4), depth_em=round(depth / _EM, 4),
    )


def _draw_or_error(job: tuple[str, bool, str]) -> MathPicture | DrawError:
    try:
        return draw(*job)
    except DrawError as exc:
        return exc


def _text(mathml: str) -> str:
    try:
        return "".join(ET.fromstring(mathml).itertext())
    except ET.ParseError as exc:
        raise DrawError(f"the MathML is not well-formed ({exc})") from None


def _missing_glyphs(mathml: str, fallback: object | None = None) -> str:
    """The characters of the formula neither the math font nor the text fallback can draw (it would
    draw an empty box)."""
    import ziamath

    font = ziamath.zmath.loadedfonts["default"]
    missing = sorted({ch for ch in _text(mathml) if not ch.isspace() and font.glyphindex(ch) == 0
                      and not (fallback is not None and fallback.glyphindex(ch))})  # type: ignore[attr-defined]
    return ", ".join(f"{ch!r} (U+{ord(ch):04X})" for ch in missing)


class MathPictures:
    """Every formula of a book, drawn once; identical formulas share one picture.

    With the formula cache, a picture's SVG stays in the cache's file and is read when a renderer
    asks for it: a 5,000-question book has ≈ 50,000 formulas and 0.4 GB of SVG, which would
    otherwise sit in the build process and in every worker forked from it (the per-process memory
    target of a large book). The rest of each picture (size, alt text) is kept here."""

    def __init__(self, pictures: dict[str, MathPicture], on_disk: _OnDisk | None = None):
        self._by_key = pictures
        self._on_disk = on_disk

    def __getitem__(self, m: Math) -> MathPicture:
        return self._whole(self._by_key[key(m)])

    def __iter__(self):
        return iter(self._whole(self._by_key[k]) for k in sorted(self._by_key))

    def _whole(self, picture: MathPicture) -> MathPicture:
        if picture.svg or self._on_disk is None:
            return picture
        return dataclasses.replace(picture, svg=self._on_disk.svg(picture.key))

    def __len__(self) -> int:
        return len(self._by_key)


_DRAWN: dict[int, tuple[Book, MathPictures]] = {}


def draw_all(book: Book, problems: Problems | None = None, cache: FormulaCache | None = None) -> MathPictures:
    """Draw every formula of `book` (in parallel when there are many) and remember the result for
    the renderers; each formula that cannot be drawn is a problem at its own line. With a `cache`,
    pictures drawn by an earlier build are taken from it and new ones added to it."""
    if id(book) in _DRAWN:
        return _DRAWN[id(book)][1]
    own = problems is None
    problems = Problems() if problems is None else problems
    maths = [m for frag in book.fragments() for m in frag.maths]
    jobs = {key(m): m for m in maths}
    on_disk = _OnDisk(cache.path, jobs) if cache is not None else None
    results = _cached_run(list(jobs.values()), cache, on_disk) if cache is not None else _run(list(jobs.values()))
    pictures: dict[str, MathPicture] = {}
    failed: dict[str, DrawError] = {}
    for k, result in zip(jobs, results, strict=True):
        if isinstance(result, DrawError):
            failed[k] = result
        else:
            pictures[k] = result
    for m in maths:
        if key(m) in failed:
            problems.add(m.location, f"cannot draw formula {m.tex[:80]!r}: {failed[key(m)]}",
                         "simplify the formula or use standard LaTeX/AMS macros")
    if own and problems.errors:
        raise BuildError(problems.items)
    table = MathPictures(pictures, on_disk)
    _DRAWN[id(book)] = (book, table)
    return table


def _cached_run(maths: list[Math], cache: FormulaCache,
                on_disk: _OnDisk | None = None) -> list[MathPicture | DrawError]:
    """The pictures of `maths`, from the cache where it has them; new ones are drawn and stored.
    With `on_disk`, a picture the cache holds comes back without its SVG (`MathPictures` reads
    it from the cache when asked), and `on_disk` learns where each one is."""
    # The spacing patches shape the pictures as much as this module does.
    fingerprint = renderer_fingerprint(__file__, mathspacing.__file__)
    keys = [cache.key(fingerprint, m.tex, m.display, m.mathml) for m in maths]
    found = cache.lookup(keys, with_svg=on_disk is None)
    results: list[MathPicture | DrawError] = []
    missing: list[int] = []
    for i, k in enumerate(keys):
        value = found.get(k)
        if value is None:
            missing.append(i)
            results.append(DrawError("not drawn yet"))
            continue
        picture = MathPicture(**{**value, "svg": value.get("svg", "").encode("utf-8")})
        results.append(picture)
        if on_disk is not None:
            on_disk.rows[picture.key] = k
    new: dict[int, dict] = {}  # drawn, not stored yet

    def store() -> None:
        # In batches as they are drawn: the SVGs of a large book are never all in memory.
        if cache.store({keys[i]: value for i, value in new.items()}) and on_disk is not None:
            for i in new:
                picture = cast(MathPicture, results[i])
                on_disk.rows[picture.key] = keys[i]
                results[i] = dataclasses.replace(picture, svg=b"")
        new.clear()

    for i, result in zip(missing, _drawn(maths[i] for i in missing), strict=True):
        results[i] = result
        if isinstance(result, MathPicture):  # a formula that fails is drawn (and reported) every time
            new[i] = {**vars(result), "svg": result.svg.decode("utf-8")}
            if len(new) >= 500:
                store()
    store()
    cache.close()
    return results


class _OnDisk:
    """The SVGs of a book's pictures, read from the formula cache's file when asked for."""

    def __init__(self, path: Path, maths: dict[str, Math]):
        self.path = path
        self.rows: dict[str, str] = {}  # picture key -> the cache's key of its row
        self._maths = maths  # picture key -> a formula it draws: drawn again if its row is gone
        self._db: tuple[int, sqlite3.Connection] | None = None

    def svg(self, picture: str) -> bytes:
        try:
            if self._db is None or self._db[0] != os.getpid():  # a forked worker opens its own
                self._db = (os.getpid(), sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, timeout=60))
            row = self._db[1].execute("SELECT value FROM picture WHERE key = ?", (self.rows[picture],)).fetchone()
            if row is not None:
                return str(json.loads(row[0])["svg"]).encode("utf-8")
        except (sqlite3.Error, ValueError, KeyError):
            pass
        # The cache was removed or damaged since the pictures were drawn: draw this one again.
        m = self._maths[picture]
        result = _draw_or_error((m.tex, m.display, m.mathml))
        if isinstance(result, DrawError):  # pragma: no cover - it was drawn once already
            raise result
        return result.svg


def _run(maths: Iterable[Math]) -> list[MathPicture | DrawError]:
    return list(_drawn(maths))


def _drawn(maths: Iterable[Math]) -> Iterator[MathPicture | DrawError]:
    """The pictures of `maths` in order, each as soon as it is drawn (not all held at once)."""
    jobs = [(m.tex, m.display, m.mathml) for m in maths]
    workers = min(os.cpu_count() or 1, 8, len(jobs) // _PER_WORKER)
    if workers < 2:
        yield from (_draw_or_error(job) for job in jobs)
        return
    # The picture of a formula does not depend on which process drew it: output stays reproducible.
    ctx = multiprocessing.get_context("fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn")
    with concurrent.futures.ProcessPoolExecutor(workers, mp_context=ctx, initializer=die_with_parent,
                                                initargs=(os.getpid(),)) as pool:
        yield from pool.map(_draw_or_error, jobs, chunksize=16)


_PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>


def die_with_parent(parent: int) -> None:
    """Pool initializer: end this worker when the build that started it ends.

    A killed build (SIGKILL, the OOM killer) cannot shut its pool down, and its workers would
    otherwise wait for work forever. Linux delivers SIGKILL to the worker when its parent dies;
    elsewhere a thread watches the parent's pid.
    """
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl failed")
    except (OSError, AttributeError):  # not Linux
        threading.Thread(target=_watch_parent, args=(parent,), daemon=True).start()
    if os.getppid() != parent:  # the build died before the signal was armed
        os._exit(1)


def _watch_parent(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(0.5)
    os._exit(1)
