r"""Formulas of a notebook's markdown as MathML, so that feedback pages show them offline, without MathJax.

Markdown is parsed by nbconvert's math-aware parser, with the delimiters Jupyter knows (``$…$``, ``$$…$$``,
``\\(…\\)``, ``\\[…\\]``, ``\begin{env}…\end{env}``), and one change: an inline ``$…$`` follows pandoc's rule
(no space just inside either dollar, no digit right after the closing one), so prices in prose ("costs $5 and
$6") stay text. Each formula becomes MathML with latex2mathml, which browsers render natively; a formula it
cannot parse (a syntax error, a command it does not know) stays as its LaTeX text. Code cells, code spans and
outputs are never touched. :data:`MATHML_TAGS` and :data:`MATHML_ATTRIBUTES` are exactly what latex2mathml
emits (minus ``href``), for the sanitiser's allow-list: presentation markup, nothing that runs or links.
"""
from __future__ import annotations

import re
from xml.etree.ElementTree import Element, tostring

from latex2mathml.converter import convert_to_element
from nbconvert.filters.markdown_mistune import IPythonRenderer, MarkdownWithMath, MathInlineParser

MATHML_TAGS = frozenset({
    "math", "mrow", "mi", "mn", "mo", "mtext", "mspace", "mstyle", "mpadded", "mphantom", "menclose", "msub",
    "msup", "msubsup", "munder", "mover", "munderover", "mfrac", "msqrt", "mroot", "mtable", "mtr", "mtd"})
MATHML_ATTRIBUTES = frozenset({
    "xmlns", "display", "accent", "columnalign", "columnlines", "columnspacing", "depth", "displaystyle",
    "fence", "form", "height", "largeop", "linebreak", "linethickness", "lspace", "mathbackground", "mathcolor",
    "mathsize", "mathvariant", "maxsize", "minsize", "movablelimits", "notation", "rowlines", "rowspacing",
    "rspace", "scriptlevel", "separator", "stretchy", "voffset", "width"})

# Pandoc's tex_math_dollars rule, in place of nbconvert's "anything between two dollars": no space after the
# opening dollar or before the closing one, no digit right after it, no unescaped dollar inside.
INLINE_DOLLAR_MATH = r"(?<![$\\])\$(?![\s$])(?P<math_inline_tex>(?:\\[\s\S]|[^$\\])+?)(?<![\s\\])\$(?!\d)"
_UNKNOWN_COMMAND = re.compile(r"\\[A-Za-z]+")
# LaTeX's operator names that latex2mathml does not know, written the way it does know (\operatorname).
_MISSING_OPERATOR = re.compile(r"\\(arg)(?![A-Za-z])")
_ENTITY = re.compile(r"&amp;(#x[0-9A-Fa-f]+;)")


def latex_to_mathml(latex: str, display: str = "inline") -> str | None:
    """One formula (LaTeX without its delimiters) as a <math> element; None when latex2mathml cannot parse it.

    display is "inline" or "block". The element is serialised as well-formed XML: text from the formula
    (``\\text{a<b}``) is escaped; latex2mathml's character references (``&#x0003D;``) are kept.
    """
    try:
        element = convert_to_element(_MISSING_OPERATOR.sub(r"\\operatorname{\1}", latex), display=display)
    except Exception:  # noqa: BLE001 -- its dozen error classes derive from Exception, and it also raises
        return None    # IndexError, StopIteration... on a submission's odd input: any failure keeps the text
    if _has_unknown_command(element):
        return None
    return _ENTITY.sub(r"&\1", tostring(element, encoding="unicode", short_empty_elements=True))


def _has_unknown_command(element: Element) -> bool:
    """latex2mathml writes a command it does not know as an identifier, e.g. <mi>\\foo</mi>."""
    return any(_UNKNOWN_COMMAND.fullmatch((child.text or "").strip()) for child in element.iter())


class DollarProseInlineParser(MathInlineParser):
    """nbconvert's inline math parser, with pandoc's rule for a single dollar."""

    SPECIFICATION = {**MathInlineParser.SPECIFICATION, "inline_math_tex": INLINE_DOLLAR_MATH}


class MathMLRenderer(IPythonRenderer):
    """nbconvert's markdown renderer, writing each formula as MathML (or its LaTeX text if it cannot)."""

    def inline_math(self, body: str) -> str:
        return latex_to_mathml(body, "inline") or super().inline_math(body)

    def block_math(self, body: str) -> str:
        return latex_to_mathml(body, "block") or super().block_math(body)

    def latex_environment(self, name: str, body: str) -> str:
        return (latex_to_mathml(f"\\begin{{{name}}}{body}\\end{{{name}}}", "block")
                or super().latex_environment(name, body))


def markdown_to_html(source: str) -> str:
    """A markdown cell's source as HTML with MathML formulas (raw HTML in it passes through: sanitise after)."""
    parser = MarkdownWithMath(renderer=MathMLRenderer(escape=False), inline=DollarProseInlineParser(hard_wrap=False))
    return parser.render(source)
