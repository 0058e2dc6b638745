"""Line breaks for display formulas on a phone (studybook.mathbreak), against ziamath's measure."""

from __future__ import annotations

import subprocess
import sys

from conftest import ROOT
from studybook.mathbreak import aligned, break_lines, inline_pieces, width_em
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


JACOBIAN = (r"\frac{\partial p_i}{\partial z_j}=p_i(\delta_{ij}-p_j)\quad\Longleftrightarrow\quad "
            r"J=\operatorname{diag}(\mathbf{p})-\mathbf{p}\mathbf{p}^{\top}")


def test_the_space_around_a_break_is_kept_when_the_pieces_stay_on_one_line():
    # The quad before "⟺" belongs to the next piece; dropping it let the formula "fit" in one
    # line 1 em narrower than written (and then it was set as written, too wide).
    assert width_em(JACOBIAN) > 19
    lines = break_lines(JACOBIAN, 19)
    first, second = JACOBIAN.split(r"\quad", 1)
    assert [line.tex for line in lines] == [first, second.strip()]
    wide = r"a+b\quad\Longleftrightarrow\quad c+d"
    assert [line.tex for line in break_lines(wide, width_em(wide))] == [wide]


def test_a_long_product_breaks_before_its_dots():
    tex = (r"\nabla_{\theta_\ell}\mathcal{L}=\Big(\tfrac{\partial\mathbf{h}_{\ell+1}}{\partial\theta_\ell}\Big)^{\top}"
           r"\Big(\tfrac{\partial\mathbf{h}_{\ell+2}}{\partial\mathbf{h}_{\ell+1}}\Big)^{\top}\cdots"
           r"\Big(\tfrac{\partial\mathbf{h}_{L}}{\partial\mathbf{h}_{L-1}}\Big)^{\top}\nabla_{\mathbf{h}_L}\mathcal{L}")
    lines = break_lines(tex, 14)
    assert len(lines) == 2 and lines[1].indent and lines[1].tex.startswith(r"\cdots")
    assert all(width_em(line.tex) <= 14 for line in lines)


def test_inside_big_brackets_a_relation_and_then_a_comma_may_end_a_line():
    kl = (r"{}-\;\beta\,\mathbb{E}_{x\sim\mathcal{D}}\Big[D_{\mathrm{KL}}\big(\pi_\theta(\cdot\mid x)\parallel"
          r"\pi_{\mathrm{ref}}(\cdot\mid x)\big)\Big]")
    lines = break_lines(kl, 14)
    assert len(lines) == 2 and lines[1].tex.startswith(r"\parallel")
    head = r"\text{head}_i=\operatorname{Attention}\big(QW_i^{Q},\,KW_i^{K},\,VW_i^{V}\big)"
    lines = break_lines(head, 14)
    assert len(lines) == 2 and lines[0].tex.endswith(",") and not lines[1].tex.startswith("\\,")
    for line in lines:
        to_mathml(line.tex, display=True)


def test_conditions_after_a_formula_break_at_their_commas_and_a_last_line_is_not_a_stub():
    lora = (r"\mathbf{h}=W_0\mathbf{x}+\frac{\alpha}{r}\,BA\,\mathbf{x},\qquad "
            r"B\in\mathbb{R}^{d\times r},\quad A\in\mathbb{R}^{r\times k},\quad r\ll\min(d,k)")
    assert [line.tex for line in break_lines(lora, 14)][1:] == [
        r"B\in\mathbb{R}^{d\times r},\quad A\in\mathbb{R}^{r\times k},", r"r\ll\min(d,k)"]
    kl = r"D_{\mathrm{KL}}(P\parallel Q)=\sum_{x}P(x)\log\frac{P(x)}{Q(x)}\;\ge 0"
    lines = break_lines(kl, 14)
    assert [line.tex for line in lines] == [r"D_{\mathrm{KL}}(P\parallel Q)",
                                            r"=\sum_{x}P(x)\log\frac{P(x)}{Q(x)} \;\ge 0"]


def test_every_display_formula_of_the_handbook_fits_a_phone():
    """The EPUB's measure (19 em) and the Anki card's (14 em; a line of unsized parentheses that
    cannot be broken may exceed it by less than half an em: the card holds 16.8 em)."""
    from studybook.reader import read_book

    for source in ("handbook.md", "handbook.zh-CN.md"):
        book = read_book(ROOT / "content" / source)
        for tex in {m.tex for frag in book.fragments() for m in frag.maths if m.display}:
            for limit, slack in ((19.0, 0.0), (14.0, 0.5)):
                widest = max(width_em(line.tex) for line in break_lines(tex, limit))
                assert widest <= limit + slack, (source, limit, tex)


def test_an_inline_formula_may_break_after_its_relations_and_nowhere_else():
    tex = r"6\times(7\times10^{10})\times(1.4\times10^{12})\approx5.9\times10^{23}"
    assert inline_pieces(tex) == [r"6\times(7\times10^{10})\times(1.4\times10^{12})\approx{}", r"5.9\times10^{23}"]
    assert inline_pieces(r"p(y\mid x)=\frac{a=b}{c}") == [r"p(y\mid x)={}", r"\frac{a=b}{c}"]  # not inside braces
    assert inline_pieces(r"a\mathrel{+}=b") == [r"a\mathrel{+}={}", "b"]
    assert inline_pieces(r"x=") == [r"x="]
    for piece in inline_pieces(tex):
        to_mathml(piece, display=False)


def test_widths_are_kept_in_the_cache_file_across_builds(tmp_path, monkeypatch):
    from studybook import mathbreak

    monkeypatch.setattr(mathbreak._WIDTHS, "path", None)
    monkeypatch.setattr(mathbreak._WIDTHS, "_db", None)
    mathbreak.use_cache(tmp_path)
    tex = r"\sum_{i=1}^{n} x_i^2 + \frac{a}{b}"
    mathbreak.width_em.cache_clear()
    measured = mathbreak.width_em(tex)
    assert (tmp_path / "formulas.sqlite").is_file()

    def never(tex: str) -> float:
        raise AssertionError(f"measured again: {tex}")

    # A new build (the in-process memo cleared, a new connection): the width comes from the file.
    mathbreak.width_em.cache_clear()
    monkeypatch.setattr(mathbreak._WIDTHS, "_db", None)
    monkeypatch.setattr(mathbreak, "_measure", never)
    assert mathbreak.width_em(tex) == measured
    mathbreak.width_em.cache_clear()
