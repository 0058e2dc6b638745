"""Formula validation and MathML conversion: what passes, what fails, and what the MathML says."""

from __future__ import annotations

import pytest

from studybook.mathtex import MathError, to_mathml


@pytest.mark.parametrize("tex", [
    r"\operatorname{softmax}(\mathbf{z})_i=\frac{\exp(z_i)}{\sum_{j=1}^{n}\exp(z_j)}",
    r"\operatorname{ReLU}'(x)=\begin{cases}1,&x>0\\[2pt]0,&x<0\end{cases}",
    r"\big\langle R_m\mathbf{q},R_n\mathbf{k}\big\rangle",
    r"\arg\max_{y} p(y\mid x)",
    r"\{a, b\}",
])
def test_valid_formulas_convert(tex: str):
    mathml = to_mathml(tex, display=True)
    assert mathml.startswith("<math") and 'display="block"' in mathml
    assert "\\" not in mathml.replace("\\\\", "")


def test_function_names_are_identifiers_and_row_gaps_vanish():
    mathml = to_mathml(r"\operatorname{softmax}(z)\\[6pt] x", display=False)
    assert "<mi>softmax</mi>" in mathml and "6pt" not in mathml


def test_rows_nested_in_operators_are_flattened():
    mathml = to_mathml(r"a \mathrel{+}= b", display=False)
    assert "<mo><mrow>" not in mathml and "<mo>&#x0002B;</mo>" in mathml  # written as latex2mathml writes it
    assert mathml.startswith('<math xmlns="http://www.w3.org/1998/Math/MathML"')


@pytest.mark.parametrize(("tex", "message"), [
    (r"\frac{a}{", "unclosed"),
    (r"a}", "never opened"),
    (r"\nosuchmacro x", r"unknown command \nosuchmacro"),
    (r"\begin{cases} a \end{array}", "does not match"),
    (r"\begin{cases} a", "never ended"),
    (r"\left( x", r"\left without a matching \right"),
    (r"x \right)", r"\right without a matching \left"),
    (r"\begin{aligned}a&=b\\c&=d\end{aligned}", "split it into separate display formulas"),
    ("   ", "empty formula"),
])
def test_broken_formulas_say_what_is_wrong(tex: str, message: str):
    with pytest.raises(MathError, match=None) as info:
        to_mathml(tex, display=False)
    assert message in str(info.value)


def _mo(tex: str, symbol: str) -> list[dict[str, str]]:
    """The attributes of every <mo> drawing `symbol` in the MathML of `tex`."""
    import xml.etree.ElementTree as ET
    root = ET.fromstring(to_mathml(tex, display=False))
    return [dict(el.attrib) for el in root.iter("{http://www.w3.org/1998/Math/MathML}mo") if (el.text or "") == symbol]


@pytest.mark.parametrize(("tex", "symbol"), [
    (r"M_{ij}=-\infty", "\u221e"), (r"1/\sqrt{d_k}", "/"), (r"\emptyset", "\u2205"), (r"\forall x", "\u2200"),
])
def test_ordinary_symbols_take_no_space(tex: str, symbol: str):
    # The MathML operator dictionary spaces these like relations ("− ∞", "1 / √d"); TeX does not.
    assert _mo(tex, symbol) == [{"lspace": "0em", "rspace": "0em"}]


def test_a_binary_operator_without_an_operand_is_ordinary():
    assert _mo(r"\pi(\cdot\mid x)", "\u00b7") == [{"lspace": "0em", "rspace": "0em"}]
    assert _mo(r"\langle\cdot,\cdot\rangle", "\u00b7") == [{"lspace": "0em", "rspace": "0em"}] * 2
    assert _mo(r"a\cdot b", "\u00b7") == [{}]  # between operands it stays binary


def test_dots_are_spaced_as_tex_inner_atoms():
    assert _mo(r"x_1,\dots,x_n", "\u2026") == [{"lspace": "0em", "rspace": "0em"}]  # the commas space them
    assert _mo(r"a\dots b", "\u2026") == [{"lspace": "0.1667em", "rspace": "0.1667em"}]
    assert _mo(r"\lambda_1\ge\dots", "\u2026") == [{"lspace": "0em", "rspace": "0em"}]


def test_sim_is_a_relation_not_an_ascii_tilde():
    assert _mo(r"x\sim\mathcal{D}", "\u223c") == [{}]  # the dictionary spaces ∼ as a relation
    assert "&#x0007E;" not in to_mathml(r"x\sim y", display=False)
    assert "&#x0007E;" in to_mathml(r"\tilde{x}", display=False)  # the accent keeps its tilde


def test_operator_names_take_a_thin_space_next_to_ordinary_symbols():
    # A MathML renderer sets an identifier without space: "βlogσ", "cosπ".
    for tex, expected in [(r"\beta\log\sigma", '<mi>&#x003B2;</mi><mspace width="0.1667em"/><mi>log</mi>'
                                                '<mspace width="0.1667em"/><mi>&#x003C3;</mi>'),
                          (r"\cos\pi s", '<mi>cos</mi><mspace width="0.1667em"/><mi>&#x003C0;</mi>'),
                          (r"\log_2 x", '</msub><mspace width="0.1667em"/><mi>x</mi>')]:
        assert expected in to_mathml(tex, display=False), tex
    # None before an opening parenthesis, after a relation or between a letter-by-letter \mathrm.
    for tex in (r"\operatorname{softmax}(z)", r"a=\exp(x)", r"D_{\mathrm{KL}}"):
        assert "mspace" not in to_mathml(tex, display=False), tex


def test_long_arrows_are_relations_and_iff_has_tex_spaces():
    assert _mo(r"a\Longrightarrow b", "\u27f9") == [{}]  # an operator: the dictionary spaces it
    mathml = to_mathml(r"A\iff B", display=False)
    assert '<mspace width="0.278em"/><mo>&#x027FA;</mo><mspace width="0.278em"/>' in mathml


def test_a_semicolon_is_punctuation_with_a_thin_space_after():
    # latex2mathml writes ";" as an identifier: "f(h;θ)" set without space.
    assert _mo(r"f(\mathbf{h};\theta)", ";") == [{"rspace": "0.1667em"}]


def test_converted_formulas_are_kept_in_the_cache_and_read_back(tmp_path, monkeypatch):
    """A build keeps each conversion in the formula cache's SQLite file (mathtex.use_cache) and the
    next one reads it instead of converting again; a formula that fails is not kept."""
    import sqlite3

    from studybook import mathtex

    monkeypatch.setattr(mathtex._MATHML, "path", None)
    monkeypatch.setattr(mathtex._MATHML, "_db", None)
    tex = r"\frac{a}{b}"
    plain = to_mathml(tex, display=True)
    mathtex.use_cache(tmp_path)
    assert to_mathml(tex, display=True) == plain  # converted, and kept
    with pytest.raises(MathError):
        to_mathml(r"\href{x}{y}", display=False)
    db = sqlite3.connect(tmp_path / "formulas.sqlite")
    assert db.execute("SELECT count(*) FROM mathml").fetchone() == (1,)
    # What the next build reads is the row, not a conversion: a row changed by hand comes back.
    with db:
        db.execute("UPDATE mathml SET value = '<math>kept</math>'")
    assert to_mathml(tex, display=True) == "<math>kept</math>"
    assert to_mathml(tex, display=False) != "<math>kept</math>"  # inline is another key
