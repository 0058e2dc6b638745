"""Line breaks for display formulas on a phone (studybook.mathbreak), against ziamath's measure."""

from __future__ import annotations

import subprocess
import sys

from conftest import ROOT
from studybook.mathbreak import aligned, break_lines, width_em
from studybook.mathtex import to_mathml

PE = (r"PE_{(pos,\,2i)}=\sin\!\big(pos/10000^{2i/d_{\text{model}}}\big),\qquad "
      r"PE_{(pos,\,2i+1)}=\cos\!\big(pos/10000^{2i/d_{\text{model}}}\big)")
KD = (r"\mathcal{L}=(1-\lambda)\,\mathrm{CE}\big(\mathbf{y},\sigma(\mathbf{z}_s)\big)+\lambda\,T^{2}\,"
      r"D_{\mathrm{KL}}\big(\sigma(\mathbf{z}_t/T)\,\|\,\sigma(\mathbf{z}_s/T)\big)")


def test_a_formula_that_fits_is_left_alone():
    tex = r"a^2+b^2=c^2"
    assert [line.tex for line in break_lines(tex, 19)] == [tex]
    assert aligned(break_lines(tex, 19)) == tex


def test_side_by_side_formulas_go_on_lines_of_their_own():
    lines = break_lines(PE, 19)
    assert width_em(PE) > 19
    assert [line.tex for line in lines] == [PE.split(r",\qquad ")[0] + ",", PE.split(r",\qquad ")[1]]
    assert not any(line.indent for line in lines)  # two formulas, not one continued


def test_a_long_formula_breaks_before_an_operator_never_inside_brackets_and_never_after_one_letter():
    lines = break_lines(KD, 14)
    assert len(lines) == 2 and all(width_em(line.tex) <= 14 for line in lines)
    assert lines[0].tex.startswith(r"\mathcal{L} =(1-\lambda)")  # "L" is not a line by itself
    assert lines[1].indent and lines[1].tex.startswith(r"{}+\lambda")  # "+" keeps its binary spacing
    for line in lines:
        to_mathml(line.tex, display=True)  # each line is a formula of its own


def test_relations_break_before_the_relation():
    tex = r"p(\text{spam}\mid\text{free})=\frac{0.3\times0.2}{0.3\times0.2+0.02\times0.8}=\frac{0.06}{0.076}\approx0.79"
    lines = break_lines(tex, 19)
    assert len(lines) == 2 and lines[1].tex.startswith("=") and lines[1].indent
    assert aligned(lines).startswith(r"\begin{aligned}&p(") and r"\\&\quad =" in aligned(lines)


def test_an_environment_is_never_split_and_a_useless_break_is_not_made():
    tex = (r"\eta_t=\begin{cases}\eta_{\max}\,\dfrac{t}{t_w}, & t<t_w\\ \eta_{\min}+\dfrac{1}{2}"
           r"\left(\eta_{\max}-\eta_{\min}\right)\left(1+\cos\dfrac{\pi\,(t-t_w)}{t_{\text{end}}-t_w}\right),"
           r" & t_w\le t\le t_{\text{end}}\end{cases}")
    # Too wide for any phone, and nothing outside the cases to break at but "=": breaking there
    # would leave "η_t" alone on a line and the cases no narrower.
    assert [line.tex for line in break_lines(tex, 14)] == [r"\eta_t =" + tex.split("=", 1)[1]]


def test_measurements_do_not_depend_on_what_the_process_drew_before():
    """With every picture from the formula cache nothing is drawn, so the breaker's measurement
    must set ziamath up itself (spacing patches, CJK fallback) — else a warm cache changes the
    deck. Measured in a fresh process: first before any drawing, then after one."""
    code = (
        "from studybook import mathbreak, mathsvg, mathtex\n"
        "t = r'\\text{KV 缓存字节数} = 2 \\cdot L \\cdot \\log(x)'\n"
        "before = mathbreak.width_em(t)\n"
        "mathbreak.width_em.cache_clear()\n"
        "mathsvg.draw(t, True, mathtex.to_mathml(t, display=True))\n"
        "print(before, mathbreak.width_em(t))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert proc.returncode == 0, proc.stderr
    before, after = proc.stdout.split()
    assert before == after
