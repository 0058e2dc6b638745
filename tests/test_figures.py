"""The figure engine: every figure spec in the handbook draws, deterministically, to clean SVG whose
numbers agree with the handbook's text; the cache skips unchanged figures; bad specs are reported
with a line offset. Real matplotlib, real fonts, no mocks."""

from __future__ import annotations

import hashlib
import json
import math
import re
import subprocess
import sys
import warnings
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from studybook.figures import KINDS, FigureCache, FigureSpec, build_figure, cache_key, draw, parse_spec
from studybook.figures import style as figure_style

ROOT = Path(__file__).resolve().parent.parent
SPECS_FILE = ROOT / "content" / "handbook.md"
BOOK_TEXT = (ROOT / "content" / "handbook.md").read_text(encoding="utf-8")
BLOCK = re.compile(r"^```figure\n(.*?)^```", re.S | re.M)
SVG_NS = "{http://www.w3.org/2000/svg}"
XLINK = "{http://www.w3.org/1999/xlink}href"


def _blocks() -> list[str]:
    return BLOCK.findall(SPECS_FILE.read_text(encoding="utf-8"))


def _specs() -> dict[str, FigureSpec]:
    specs = {}
    for body in _blocks():
        spec, problems = parse_spec(body)
        assert not problems, problems
        assert spec is not None and spec.id not in specs
        specs[spec.id] = spec
    return specs


SPECS = _specs()
BY_KIND = {spec.kind: spec for spec in SPECS.values()}


@pytest.fixture(scope="module")
def drawn() -> dict[str, bytes]:
    """Every figure drawn once; a missing glyph (a word drawn as a box) fails here."""
    out = {}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for spec in SPECS.values():
            out[spec.id] = draw(spec)
    glyph_warnings = [str(w.message) for w in caught if "glyph" in str(w.message).lower()]
    assert not glyph_warnings, glyph_warnings
    return out


def test_specs_cover_every_kind_and_enough_figures():
    assert len(SPECS) >= 13
    assert set(BY_KIND) == set(KINDS), "every kind has a figure in the handbook"


def test_every_figure_stands_in_an_answer_with_caption_and_alt_text():
    from studybook.model import ImageRef
    from studybook.reader import read_book

    book = read_book(SPECS_FILE)
    placed = {ref.name.rsplit("-", 1)[0].removeprefix("fig-"): (q.id, ref)
              for q in book.questions for ref in q.answer.parts_of(ImageRef) if ref.name.startswith("fig-")}
    assert sorted(placed) == sorted(SPECS)
    for fid, (_, ref) in placed.items():
        assert ref.figure and ref.caption == SPECS[fid].caption and ref.alt == SPECS[fid].alt


@pytest.mark.parametrize("figure_id", sorted(SPECS))
def test_svg_is_clean_and_scalable(drawn, figure_id):
    svg = drawn[figure_id]
    root = ET.fromstring(svg)
    assert root.tag == f"{SVG_NS}svg"
    view_box = [float(v) for v in root.attrib["viewBox"].split()]
    assert view_box[:2] == [0, 0] and view_box[2] > 0 and view_box[3] > 0
    assert b"<!DOCTYPE" not in svg and b"<!--" not in svg
    for element in root.iter():
        tag = element.tag.removeprefix(SVG_NS)
        assert tag not in {"script", "text", "foreignObject", "metadata"}, tag
        for name, value in element.attrib.items():
            assert not name.lower().startswith("on"), name
            if name in {XLINK, "href"}:
                assert value.startswith(("#", "data:image/png;base64,")), value[:60]
        if tag == "style":
            assert "url(" not in (element.text or "") and "@import" not in (element.text or "")
    assert not re.search(rb"https?://(?!www\.w3\.org/)", svg), "no external references"


@pytest.mark.parametrize("figure_id", sorted(SPECS))
def test_every_word_drawn_comes_from_the_labels(figure_id):
    from matplotlib.text import Text

    spec = SPECS[figure_id]
    allowed = {w.lower() for value in spec.labels.values() for w in re.findall(r"[^\W\d_]{2,}", value)}
    fig = build_figure(spec)
    for artist in fig.findobj(Text):
        if not artist.get_visible():
            continue
        for word in re.findall(r"[^\W\d_]{2,}", artist.get_text()):
            assert word.lower() in allowed, f"{word!r} in {artist.get_text()!r} is not from the labels"
        assert artist.get_fontsize() >= figure_style.MIN_FONT_PT


def test_text_smaller_than_phone_minimum_is_refused():
    from matplotlib.figure import Figure

    fig = Figure()
    fig.text(0.5, 0.5, "tiny", fontsize=figure_style.MIN_FONT_PT - 2)
    with pytest.raises(ValueError, match="below"):
        figure_style.check_text_sizes(fig)


_DRAW_ALL = """
import hashlib, json, sys
sys.path.insert(0, {root!r})
from tests.test_figures import SPECS
from studybook.figures import draw
print(json.dumps({{i: hashlib.sha256(draw(s)).hexdigest() for i, s in SPECS.items()}}))
"""


def test_bytes_are_identical_in_a_fresh_process(drawn, tmp_path):
    here = {i: hashlib.sha256(svg).hexdigest() for i, svg in drawn.items()}
    script = _DRAW_ALL.format(root=str(ROOT))
    for seed in ("1", "12345"):
        # A hang guard, not a time limit: with an empty MPLCONFIGDIR matplotlib first builds its
        # font cache, which took over 120 s on a loaded 2-core machine.
        result = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True,
                                timeout=900, env={"PYTHONHASHSEED": seed, "PATH": "/usr/bin:/bin",
                                                  "MPLCONFIGDIR": str(tmp_path / f"mpl{seed}")})
        assert result.returncode == 0, result.stderr
        assert json.loads(result.stdout.strip().splitlines()[-1]) == here


def test_chinese_labels_are_drawn_with_the_cjk_face():
    spec = SPECS["softmax-temperature"]
    zh = FigureSpec(spec.id, spec.kind, spec.caption, spec.alt, spec.data,
                    {"x": "每个候选词元的 logit z", "y": "概率", "tick_fmt": "z = {z}", "title_fmt": "T = {t}"})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        svg = draw(zh, lang="zh-CN")
    assert b"NotoSansCJK" in svg
    assert svg == draw(zh, lang="zh-CN")


def test_cache_hits_on_the_second_call_and_misses_after_a_change(tmp_path):
    spec = SPECS["kv-cache-growth"]
    cache = FigureCache(tmp_path / "cache")
    first = cache.get_or_draw(spec, "en")
    assert (cache.hits, cache.misses) == (0, 1)
    second = cache.get_or_draw(spec, "en")
    assert (cache.hits, cache.misses) == (1, 1)
    assert first == second
    # A new cache over the same directory (the next build) hits too.
    again = FigureCache(tmp_path / "cache")
    assert again.get_or_draw(spec, "en") == first and (again.hits, again.misses) == (1, 0)
    # Changing one datum misses and draws different bytes.
    data = dict(spec.data)
    data["max_tokens"] = 16384
    data["marks"] = [4096, 8192, 16384]
    changed = FigureSpec(spec.id, spec.kind, spec.caption, spec.alt, data, spec.labels)
    assert cache.get_or_draw(changed, "en") != first
    assert (cache.hits, cache.misses) == (1, 2)
    # Captions and alt text are not drawn, so editing them does not redraw.
    reworded = FigureSpec(spec.id, spec.kind, "Another caption.", "Another alt.", spec.data, spec.labels)
    cache.get_or_draw(reworded, "en")
    assert (cache.hits, cache.misses) == (2, 2)
    # A label change and a language change are new keys.
    assert cache_key(spec, "en") != cache_key(spec, "zh-CN")
    assert not list((tmp_path / "cache").glob(".*.tmp")), "no temporary files left behind"
    assert len(list((tmp_path / "cache").glob("*.svg"))) == 2


GOOD = """id: t-fig
kind: softmax_temperature
caption: A caption.
alt: An alt text.
data: {logits: [2.0, 1.0, 0.0], temperatures: [0.5, 1.0]}
labels: {x: logit, y: probability, tick_fmt: "z = {z}", title_fmt: "T = {t}"}
"""


def _problems(text: str) -> list[tuple[int, str]]:
    spec, problems = parse_spec(text)
    assert spec is None
    return problems


def test_a_good_spec_parses():
    spec, problems = parse_spec(GOOD)
    assert problems == [] and spec is not None
    assert spec.id == "t-fig" and spec.labels["title_fmt"] == "T = {t}"
    assert list(spec.data["logits"]) == [2.0, 1.0, 0.0]


def test_missing_alt_is_reported():
    problems = _problems(GOOD.replace("alt: An alt text.\n", ""))
    assert len(problems) == 1 and "no alt" in problems[0][1] and " — " in problems[0][1]


def test_missing_caption_is_reported_at_its_line_when_empty():
    problems = _problems(GOOD.replace("caption: A caption.", "caption:"))
    assert problems == [(2, problems[0][1])] and "no caption" in problems[0][1]


def test_unknown_kind_is_reported_at_the_kind_line():
    problems = _problems(GOOD.replace("kind: softmax_temperature", "kind: pie_chart"))
    assert len(problems) == 1
    offset, message = problems[0]
    assert offset == 1 and "unknown figure kind `pie_chart`" in message and "softmax_temperature" in message


def test_invalid_and_missing_data_and_labels_are_reported_where_written():
    text = """id: t-fig
kind: softmax_temperature
caption: A caption.
alt: An alt text.
data:
  logits: [2.0, one, 0.0]
labels: {x: logit, y: probability, title_fmt: "T = {temp}"}
"""
    problems = dict((m.split(" — ")[0], o) for o, m in _problems(text))
    assert any("logits" in m and o == 5 for m, o in problems.items()), problems
    assert any("no `temperatures`" in m and o == 4 for m, o in problems.items()), problems
    assert any("no `tick_fmt`" in m and o == 6 for m, o in problems.items()), problems
    assert any("title_fmt" in m and o == 6 for m, o in problems.items()), problems


def test_yaml_errors_and_list_label_counts_are_reported():
    problems = _problems("id: x\nkind: [unclosed\n")
    assert problems[0][0] in (1, 2) and "not valid YAML" in problems[0][1]
    text = SPECS_FILE.read_text(encoding="utf-8")
    body = next(b for b in _blocks() if "kind: beam_search" in b)
    assert body in text
    problems = _problems(body.replace("dog | cat | cat | dog", "dog | cat"))
    assert any("step2_tokens" in m and "4 entries" in m for _, m in problems)


# -- the numbers each figure shows agree with the handbook ------------------------------------------

def compute(kind: str) -> dict:
    return KINDS[kind].compute(BY_KIND[kind].data)


def test_softmax_temperature_matches_the_table():
    probs = compute("softmax_temperature")["probs"]
    assert all(math.isclose(sum(row), 1.0) for row in probs)
    temps = list(BY_KIND["softmax_temperature"].data["temperatures"])
    for t, row in zip(temps, probs, strict=True):
        if t == 0.1:
            assert "| 0.1 | (≈ 1.000, < 0.001, < 0.001) |" in BOOK_TEXT
            assert row[0] > 0.9995 and row[1] < 0.001 and row[2] < 0.001
        else:
            stated = f"| {t:g}.0 |" if t == int(t) else f"| {t:g} |"
            line = next(line for line in BOOK_TEXT.splitlines() if line.startswith(stated))
            assert f"({row[0]:.3f}, {row[1]:.3f}, {row[2]:.3f})" in line


def test_truncation_counts_match_the_worked_example():
    peaked, flat = compute("truncation_samplers")["distributions"]
    assert "Peaked: one token at 0.92" in BOOK_TEXT and "| 1 token | 1 token (cut-off 0.092) |" in BOOK_TEXT
    assert (peaked["top_k"], peaked["top_p"], peaked["min_p"]) == (20, 1, 1)
    assert math.isclose(peaked["cutoff"], 0.092)
    assert "the 40, plus about 5,000 tail tokens" in BOOK_TEXT and "the 40 (cut-off 0.002)" in BOOK_TEXT
    assert (flat["top_k"], flat["top_p"], flat["min_p"]) == (20, 40 + 5000, 40)
    assert math.isclose(flat["cutoff"], 0.002)


def test_activations_match_the_stated_values():
    values = compute("activations")
    assert r"\operatorname{GELU}(-1)\approx-0.159" in BOOK_TEXT and "has slope 0.5 at 0" in BOOK_TEXT
    assert f"{values['gelu_at_mark']:.3f}" == "-0.159"
    assert math.isclose(values["gelu_slope_at_0"], 0.5)
    assert values["relu_slope"] == {"neg": 0.0, "zero": 0.0, "pos": 1.0}  # frameworks return 0 at 0


def test_positional_encoding_follows_the_formula():
    values = compute("positional_encoding")
    pe, wavelengths = values["pe"], values["wavelengths"]
    assert all(-1 <= v <= 1 for row in pe for v in row)
    assert all(math.isclose(pe[p][0], math.sin(p)) and math.isclose(pe[p][1], math.cos(p)) for p in range(len(pe)))
    assert math.isclose(wavelengths[0], 2 * math.pi) and wavelengths[-1] < 10000 * 2 * math.pi
    assert r"\(2\pi\) to \(10000\cdot2\pi\)" in BOOK_TEXT


def test_rope_scores_depend_on_the_offset_only():
    values = compute("rope_rotation")
    assert math.isclose(values["theta"], 10000 ** (-2 * 8 / 128))
    scores = [row["score"] for row in values["rows"]]
    assert len({row["n"] - row["m"] for row in values["rows"]}) == 1
    assert all(math.isclose(s, scores[0]) for s in scores)


def test_causal_weights_match_the_worked_example():
    weights = compute("causal_attention")["weights"]
    assert r"\((0.731,\ 0.269,\ 0)\)" in BOOK_TEXT
    assert [f"{w:.3f}" for w in weights[1]] == ["0.731", "0.269", "0.000"]
    for i, row in enumerate(weights):
        assert math.isclose(sum(row), 1.0) and all(w == 0.0 for w in row[i + 1:])


def test_softmax_saturation_matches_the_stated_spread():
    values = compute("softmax_saturation")
    d_k = list(BY_KIND["softmax_saturation"].data["d_k"])
    assert "standard deviation of about 11.3" in BOOK_TEXT
    assert f"{values['raw_std'][d_k.index(128)]:.1f}" == "11.3"
    assert len({round(v, 12) for v in values["scaled_max"]}) == 1
    assert values["raw_max"] == sorted(values["raw_max"]) and values["raw_max"][d_k.index(128)] > 0.95


def test_lora_counts_match_the_worked_number():
    values = compute("lora")
    assert "has 16,777,216 weights" in BOOK_TEXT and r"8\times(4096+4096)=65{,}536" in BOOK_TEXT
    assert (values["frozen"], values["trained"]) == (16_777_216, 65_536)
    assert f"{values['fraction'] * 100:.1f}%" == "0.4%" and "about 0.4%" in BOOK_TEXT


def test_moe_routes_each_token_to_k_experts_with_gates_summing_to_one():
    spec = BY_KIND["moe_routing"]
    values = compute("moe_routing")
    assert "| Mixtral 8x7B (2023) | 8 | 2 |" in BOOK_TEXT and (spec.data["experts"], spec.data["k"]) == (8, 2)
    for route, logits in zip(values["routes"], spec.data["router_logits"], strict=True):
        assert len(route) == 2 and math.isclose(sum(route.values()), 1.0)
        assert set(route) == set(sorted(range(8), key=lambda e: -logits[e])[:2])


def test_beam_search_matches_the_worked_example():
    values = compute("beam_search")
    assert r"\(0.5\times0.3=0.15\)" in BOOK_TEXT and r"\(0.4\times0.9=0.36\)" in BOOK_TEXT
    assert math.isclose(values["greedy_p"], 0.15) and math.isclose(values["beam_p"], 0.36)
    assert values["greedy"] == (0, 0) and values["beam"] == (1, 0)


def test_rag_sizing_matches_the_example():
    values = compute("rag_pipeline")
    assert "about 6,900 chunks" in BOOK_TEXT and "about 21 MB" in BOOK_TEXT and "roughly 2,000 tokens" in BOOK_TEXT
    assert values["chunks_rounded"] == 6900 and round(values["index_mb"]) == 21 and values["context_tokens"] == 2000


def test_cross_entropy_points_match_the_worked_example():
    values = compute("neg_log_likelihood")
    assert r"\((0.659,\ 0.242,\ 0.099)\)" in BOOK_TEXT
    assert r"\(-\ln 0.659=0.417\) nats" in BOOK_TEXT and "the loss would be 2.317 nats" in BOOK_TEXT
    (first, third) = values["points"]
    assert (f"{first['p']:.3f}", f"{first['loss']:.3f}") == ("0.659", "0.417")
    assert (f"{third['p']:.3f}", f"{third['loss']:.3f}") == ("0.099", "2.317")


def test_kv_cache_bytes_follow_the_formula():
    spec = BY_KIND["kv_cache"]
    values = compute("kv_cache")
    assert r"\(2\times32\times32\times128\times2=524{,}288\) bytes" in BOOK_TEXT
    assert r"2\times32\times8\times128\times2=131{,}072" in BOOK_TEXT
    assert values["bytes_per_token"] == [524_288, 131_072]
    for config, per_token in zip(spec.data["configs"], values["bytes_per_token"], strict=True):
        assert per_token == 2 * config["layers"] * config["kv_heads"] * config["head_dim"] * config["bytes"]
    gib = 2 ** 30
    marks = list(spec.data["marks"])
    assert "one 4,096-token sequence holds 2 GiB" in BOOK_TEXT
    assert values["mark_bytes"][0][marks.index(4096)] == 2 * gib
    assert "An 8,192-token context therefore holds 1 GiB" in BOOK_TEXT
    assert values["mark_bytes"][1][marks.index(8192)] == 1 * gib
    assert values["mark_bytes"][0][marks.index(8192)] == 4 * gib  # "with 32 key/value heads ... 4 GiB"
