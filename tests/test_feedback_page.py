"""The feedback page offline: formulas as MathML (no MathJax, no network), sanitised, long output lines wrapped."""
from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from html.entities import name2codepoint

import nbformat
import pytest
from bs4 import BeautifulSoup
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from dlcourse import paths
from dlcourse.grading.feedback import feedback_html, sanitized_markdown
from dlcourse.grading.mathml import MATHML_ATTRIBUTES, MATHML_TAGS, latex_to_mathml, markdown_to_html

MATHML = "{http://www.w3.org/1998/Math/MathML}"
LONG_MESSAGE = "CheckFailure: conv2d(image, kernel) returned the wrong values; " + "expected 4 got 3 " * 40
MARKDOWN = "\n\n".join([
    r"The output size is $n_\text{out} = n - k + 1$ and a residual block computes $y = \mathrm{ReLU}(F(x) + x)$.",
    r"$$\frac{1}{16}\begin{bmatrix}1 & 2 & 1\\ 2 & 4 & 2\\ 1 & 2 & 1\end{bmatrix}$$",
    "A GPU hour costs $5 and a CPU hour $6.",
    r"Broken: $\frac{1}{$ and $x^$ and $\notacommand x$.",
    r"Hostile: $\text{<script>alert('in text')</script>}$, $\left( <script>alert('in fallback')</script>$, "
    r"$\href{javascript:alert('href')}{x}$ and <math><mtext><script>alert('raw')</script></mtext></math>.",
])
CODE = 'price = "$5"  # $x$ stays code\nraise AssertionError("long")'


@pytest.fixture(scope="module")
def page() -> str:
    nb = new_notebook(cells=[
        new_markdown_cell(MARKDOWN),
        new_code_cell(CODE, metadata={"nbgrader": {"grade": True, "grade_id": "test_x", "points": 1,
                                                   "solution": False}},
                      outputs=[new_output("stream", name="stdout", text="printed $a$ and $b$\n"),
                               new_output("error", ename="CheckFailure", evalue="long", traceback=[LONG_MESSAGE])]),
    ])
    return feedback_html(nb, {"test_x": 0.0}, "alice", "03_convolution", "03_convolution.ipynb")


def math_elements(html: str) -> list[ET.Element]:
    """Every <math> element of a page, parsed as XML (a fragment that is not well-formed raises).

    HTML's named character references (&nbsp;) become numeric ones first: XML knows only five names.
    """
    numeric = re.sub(r"&(\w+);", lambda m: m[0] if m[1] in ("lt", "gt", "amp", "quot", "apos")
                     else f"&#{name2codepoint[m[1]]};", html)
    return [ET.fromstring(fragment) for fragment in re.findall(r"<math\b.*?</math>", numeric, re.S)]


def names(element: ET.Element) -> set[str]:
    return {child.tag.removeprefix(MATHML) for child in element.iter()}


def test_formulas_are_well_formed_mathml(page):
    formulas = math_elements(page)
    assert len(formulas) == 6  # the three below, the hostile \text{}, \href and raw <math> (rendered inert)
    assert all(f.tag == MATHML + "math" for f in formulas[:5])
    out_size, relu, kernel = formulas[:3]
    assert {"msub", "mtext"} <= names(out_size) and out_size.get("display") == "inline"
    assert {"mfrac", "mtable", "mtr", "mtd"} <= names(kernel) and kernel.get("display") == "block"
    assert [mi.get("mathvariant") for mi in relu.iter(MATHML + "mi")][1:5] == ["normal"] * 4  # attributes kept
    assert r"n_\text{out}" not in page and r"\begin{bmatrix}" not in page


def test_the_page_loads_no_script_and_nothing_from_a_network(page):
    assert "<script" not in page.lower()
    assert "cdnjs" not in page and "MathJax.Hub" not in page
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page)


def test_dollars_in_prose_stay_text(page):
    assert "A GPU hour costs $5 and a CPU hour $6." in page


def test_a_formula_latex2mathml_cannot_parse_stays_as_its_latex(page):
    assert r"Broken: $\frac{1}{$ and $x^$ and $\notacommand x$." in page


def test_hostile_markup_in_formulas_stays_inert(page):
    without_css = re.sub(r"<style\b.*?</style>", "", page, flags=re.S)  # bootstrap's CSS names javascript:
    assert "<script" not in page.lower() and "javascript:" not in without_css
    assert "alert('raw')" not in page  # a raw <script> element is dropped with its content
    assert "&lt;script&gt;alert('in" in page and "&lt;script&gt;alert('in fallback')" in page  # text is text


def test_code_cells_and_outputs_are_untouched(page):
    soup = BeautifulSoup(page, "html.parser")
    assert 'price = "$5"  # $x$ stays code' in soup.select_one("div.input_area").get_text()
    assert "printed $a$ and $b$" in soup.select_one("div.output_stdout pre").get_text()
    assert not any(m.find_parent("div", class_="output_area") or m.find_parent("div", class_="input_area")
                   for m in soup.find_all("math"))


def test_long_output_lines_wrap_inside_their_box(page):
    soup = BeautifulSoup(page, "html.parser")
    assert LONG_MESSAGE.strip() in soup.select_one("div.output_subarea.output_error pre").get_text()
    rules = " ".join(style.get_text() for style in soup.find_all("style"))
    rule = re.search(r"div\.output_subarea pre\s*\{([^}]*)\}", rules)
    assert rule and "white-space: pre-wrap" in rule.group(1) and "overflow-wrap: anywhere" in rule.group(1)


# Formulas that between them make latex2mathml write every element of the allow-list.
CORPUS = [r"x_i^2 + \sqrt{y} - \sqrt[3]{z}", r"\frac{a}{b}", r"\prod\limits_{i=1}^{n} x_i",
          r"\sum_{i=1}^{n} \lim_{x \to 0} \overbrace{a}^{b}",
          r"\underbrace{x}_{y} \hat{y} \boxed{x} \not= 0", r"\begin{pmatrix} 1 & 0 \\ 0 & 1 \end{pmatrix}",
          r"\color{red} x \quad \hspace{1em} \mathrm{d}x \text{ text}", r"\xrightarrow{f} \mathbf{W}^\top",
          r"\left( \frac{\partial L}{\partial w} \right) \cancel{x} \phantom{x} \mod 2", r"\mathbb{R}"]


def test_the_allow_list_is_exactly_what_latex2mathml_writes():
    tags, attributes = set(), set()
    for latex in CORPUS:
        for child in ET.fromstring(latex_to_mathml(latex)).iter():
            tags.add(child.tag.removeprefix(MATHML))
            attributes.update(child.attrib)
    assert tags == MATHML_TAGS
    assert attributes <= MATHML_ATTRIBUTES | {"xmlns"}
    assert not {"href", "src"} & MATHML_ATTRIBUTES and not {"maction", "semantics", "annotation-xml"} & MATHML_TAGS


def course_markdown() -> list[str]:
    cells = []
    for path in sorted(paths.course_dir().glob("*.ipynb")) + sorted(paths.solutions_dir().glob("*/*.ipynb")):
        cells += [c.source for c in nbformat.read(path, as_version=4).cells if c.cell_type == "markdown"]
    return cells


def mathml_signature(html: str) -> list[tuple[str, tuple, str]]:
    """Each MathML element of a fragment: its name, sorted attributes and text, in document order."""
    return [(e.tag.removeprefix(MATHML), tuple(sorted(e.attrib.items())), e.text or "")
            for formula in math_elements(html) for e in formula.iter()]


def test_the_sanitiser_keeps_the_course_formulas_whole():
    sources = [s for s in course_markdown() if "$" in s]
    assert len(sources) > 20
    assert sum(markdown_to_html(s).count("<math") for s in sources) > 100
    for source in sources:
        assert mathml_signature(sanitized_markdown(source)) == mathml_signature(markdown_to_html(source)), source


def test_every_course_formula_becomes_mathml_not_leftover_latex():
    leftovers = []
    for source in (s for s in course_markdown() if "$" in s):
        soup = BeautifulSoup(markdown_to_html(source), "html.parser")
        for kept in soup.find_all(["math", "code", "pre"]):
            kept.decompose()
        leftovers += re.findall(r"\\[A-Za-z]+", soup.get_text())
    assert leftovers == []


def test_operator_names_latex2mathml_lacks_are_written_as_operators():
    mathml = latex_to_mathml(r"\arg\min_x f(x) + \argmin_y g")
    assert mathml is not None and "\\arg" not in mathml and "<mo>arg</mo>" in mathml
    assert latex_to_mathml(r"\argue x") is None  # an unknown command still keeps its LaTeX
