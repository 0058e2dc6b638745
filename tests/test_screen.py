"""Both editions on a 390 px phone, in headless Chromium: the EPUB's pages and the Anki card backs.

A reader of a phone must meet no table, formula or code block wider than the screen (paginated
readers clip what overflows, and a card that scrolls sideways hides its edge), and no formula that
silently loses a symbol: every square root in the EPUB must be drawn. Card backs are the answers of
the real deck imported with the real engine, typeset by the MathJax Anki ships, under its reviewer
CSS (tests/screen/harness.py). One browser session lays out every page of this module.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from screen import harness

pytestmark = pytest.mark.slow

EDITIONS = {"en": ("handbook_dist", "llm-interview-handbook-en"),
            "zh-CN": ("handbook_zh_dist", "llm-interview-handbook-zh-CN")}


@pytest.fixture(scope="module")
def laid_out(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[dict]]:
    """Every EPUB content document (light and dark) and every card back (light, and night mode
    with the parts opened), laid out at 390 px: the probe's results per edition and format."""
    assets = harness.anki_assets()
    jobs: list[dict] = []
    owner: list[str] = []
    for edition, (fixture, stem) in EDITIONS.items():
        dist: Path = request.getfixturevalue(fixture)
        pages = harness.unpack_epub(dist / f"{stem}.epub", tmp_path_factory.mktemp(f"epub-{edition}"))
        for page in pages.values():
            for dark in (False, True):
                jobs.append(harness.job(page, dark=dark))
                owner.append(f"epub-{edition}")
        cards = harness.anki_pages(dist / f"{stem}.apkg", tmp_path_factory.mktemp(f"anki-{edition}"), assets)
        for i, page in enumerate(sorted(cards.values())):
            # Light mode for all, night mode for every fifth: the same layout, other colours.
            for dark in (False, True) if i % 5 == 0 else (False,):
                jobs.append(harness.job(page, anki=True, dark=dark))
                owner.append(f"anki-{edition}")
    results: dict[str, list[dict]] = {}
    for who, result in zip(owner, harness.probe(jobs), strict=True):
        results.setdefault(who, []).append(result)
    return results


def _too_wide(results: list[dict]) -> list[str]:
    return [f"{r['id']}: {w['kind']} {w['what']} is {w['over']} px too wide" for r in results for w in r["wide"]]


@pytest.mark.parametrize("edition", EDITIONS)
def test_no_epub_table_formula_or_code_is_wider_than_a_phone(laid_out: dict[str, list[dict]], edition: str):
    results = laid_out[f"epub-{edition}"]
    assert sum(r["count"] for r in results) > 100  # the probe found the blocks it measures
    assert _too_wide(results) == []
    assert [(r["id"], r["docWidth"]) for r in results if r["docWidth"] > r["vw"]] == []


@pytest.mark.parametrize("edition", EDITIONS)
def test_no_epub_display_formula_is_shrunk_to_fit(laid_out: dict[str, list[dict]], edition: str):
    """A formula too wide for the phone is broken into lines (studybook.mathbreak) or rewritten in
    the source, never set smaller than the text around it."""
    results = laid_out[f"epub-{edition}"]
    assert sum(len(r["spacing"]) for r in results) > 20  # the probe reached the formulas
    assert [(r["id"], s["alttext"], s["size"]) for r in results for s in r["shrunk"]] == []


@pytest.mark.parametrize("edition", EDITIONS)
def test_epub_cases_are_set_as_in_tex(laid_out: dict[str, list[dict]], edition: str):
    """Both columns of a `cases` flush left, a quad apart (Chromium ignores MathML 3's columnalign
    and columnspacing: the book's CSS says it again)."""
    cases = [c for r in laid_out[f"epub-{edition}"] for c in r["cases"]]
    assert len(cases) >= 3
    assert [(c["alttext"], [round(x, 2) for x in c["lefts"]]) for c in cases if max(c["lefts"]) > 0.05] == []
    assert [(c["alttext"], round(c["gap"], 2)) for c in cases if c["gap"] < 0.9] == []


@pytest.mark.parametrize("edition", EDITIONS)
def test_epub_mathml_is_spaced_as_tex_in_chromium(laid_out: dict[str, list[dict]], edition: str):
    """Chromium lays MathML out with the MathML operator dictionary; the spacing TeX gives (and the
    formula pictures show) must survive it: measured between the glyphs, in em."""
    spacing = [s for r in laid_out[f"epub-{edition}"] for s in r["spacing"]]
    signs = [s for s in spacing if s["text"] == "\u2212" and s["form"] == "prefix" and s["after"] is not None]
    assert len(signs) >= 10
    # "= −∞", "(−1)", "−x": a sign sits against what it signs; before ∑ TeX puts a thin space.
    def sign_gap(s: dict) -> float:
        return 0.1667 if (s["next"] or "")[:1] in "\u2211\u220f\u222b" else 0.0
    assert [(s["alttext"], round(s["after"], 2)) for s in signs if abs(s["after"] - sign_gap(s)) > 0.06] == []
    # "1/√d": a slash takes no space; "1, …, n": the dots take no space of their own after a comma.
    slashes = [s for s in spacing if s["text"] == "/" and s["before"] is not None and s["after"] is not None]
    assert slashes and [(s["alttext"], round(s["before"], 2), round(s["after"], 2)) for s in slashes
                        if max(abs(s["before"]), abs(s["after"] - sign_gap(s))) > 0.06] == []
    dots = [s for s in spacing if s["text"] == "\u2026" and s["prev"] == ","]
    assert dots and [(s["alttext"], round(s["before"], 2)) for s in dots if not 0.1 < s["before"] < 0.25] == []
    # "β log σ", "cos π s": an operator name and a letter a thin space apart (not "βlogσ").
    names = [s for s in spacing if s["text"] in ("log", "exp", "cos", "sin")]
    assert names and [(s["alttext"], round(s["after"], 2)) for s in names if not 0.1 < s["after"] < 0.25] == []
    # "0 ⟺ P": a long arrow is a relation (latex2mathml wrote an identifier, set without space).
    arrows = [s for s in spacing if s["text"] in ("\u27f9", "\u27fa") and s["after"] is not None]
    assert arrows and [(s["alttext"], round(s["after"], 2)) for s in arrows if s["after"] < 0.25] == []
    # "x ∼ D": \sim is a relation, a thick space on each side (latex2mathml wrote an unspaced "~").
    tildes = [s for s in spacing if s["text"] == "\u223c" and s["before"] is not None and s["after"] is not None]
    assert tildes and [(s["alttext"], round(s["before"], 2), round(s["after"], 2)) for s in tildes
                       if min(s["before"], s["after"]) < 0.2] == []


@pytest.mark.parametrize("edition", EDITIONS)
def test_every_square_root_in_the_epub_is_drawn(laid_out: dict[str, list[dict]], edition: str):
    results = laid_out[f"epub-{edition}"]
    roots = [root for r in results for root in r["roots"]]
    assert len(roots) >= 10
    # The radical sign takes room to the left of the radicand and its bar rises above it: without
    # a math font Chromium draws neither, and "1/√d" reads "1/d".
    undrawn = [root for root in roots if root["room"] < 4 or root["rise"] < 1]
    assert undrawn == []
    assert all("STIX Two Math" in r["fontsLoaded"] for r in results if r["roots"])


@pytest.mark.parametrize("edition", EDITIONS)
def test_no_anki_card_back_is_wider_than_a_phone(laid_out: dict[str, list[dict]], edition: str):
    results = laid_out[f"anki-{edition}"]
    assert len({r["id"] for r in results}) == 50
    assert [r["id"] for r in results if r["typeset"] is not True] == []  # MathJax typeset every card
    assert sum(r["count"] for r in results) > 100
    # Nothing scrolls, not even in a box with shadows: every display formula is broken to fit
    # (or rewritten in the source), so a learner never swipes a formula sideways.
    assert _too_wide(results) == []
    assert [(r["id"], r["docWidth"]) for r in results if r["docWidth"] > r["vw"]] == []
