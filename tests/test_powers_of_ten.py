"""Glued numbers in scientific notation are shown as powers of ten (gatedrnn.book.glue.powers_of_ten, applied to\nevery glued value of a page by tools/powers_of_ten.py)."""

import sys
from pathlib import Path

import pytest
from docutils import nodes
from docutils.frontend import get_default_settings
from docutils.parsers.rst import Parser
from docutils.utils import new_document

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools"))
import powers_of_ten  # noqa: E402

from gatedrnn.book import glue  # noqa: E402


@pytest.mark.parametrize("python, shown", [
    (f"{3e-45:.0e}", "3 × 10⁻⁴⁵"),
    (f"{1e-12:.0e}", "10⁻¹²"),
    (f"{2.5e6:.1e}", "2.5 × 10⁶"),
    (f"{1.3e1:.1e}", "13"),
    (f"{2.3e-1:.1e}", "0.23"),
    (f"{1.5e2:.1e}", "150"),
    (f"{2e-2:.0e}", "0.02"),
    (f"{9.99e3:.2e}", "9990"),
    (f"{1.2e4:.1e}", "1.2 × 10⁴"),
    (f"{7.0:.0e}", "7"),
    (f"{0.0:.0e}", "0"),
    (f"{-4e-3:.0e}", "−4 × 10⁻³"),
    (f"{-2.5e-1:.1e}", "−0.25"),
    (f"{-1e20:.0e}", "−10²⁰"),
])
def test_python_scientific_notation_becomes_a_power_of_ten(python, shown):
    assert glue.powers_of_ten(python) == shown


def test_only_numbers_are_rewritten_not_words_or_versions():
    sentence = "a median of 2e-04 after 1e3 steps, not in 1e3x, v1.2e5 or e-mail"
    assert glue.powers_of_ten(sentence) == "a median of 2 × 10⁻⁴ after 1000 steps, not in 1e3x, v1.2e5 or e-mail"


def test_the_glued_values_of_a_page_are_rewritten_and_nothing_else():
    document = new_document("chapter", get_default_settings(Parser))
    pasted = nodes.inline("4e-16", "4e-16", classes=["pasted-text"])
    other = nodes.literal("1e-06", "1e-06")
    document += nodes.paragraph("", "", nodes.Text("to "), pasted, nodes.Text(" and tolerance "), other)
    powers_of_ten.rewrite_pasted_values(None, document, "chapters/lstm")
    assert document.astext() == "to 4 × 10⁻¹⁶ and tolerance 1e-06"


def test_scientific_formats_a_value_as_a_power_of_ten():
    assert glue.scientific(2.04e-11) == "2 × 10⁻¹¹" and glue.scientific(0.000123, 1) == "1.2 × 10⁻⁴"


def test_span_gives_a_range_or_one_value_when_it_collapses():
    percent = "{:.0%}".format
    assert glue.span(0.631, 0.634, percent) == "63%"
    assert glue.span(0.48, 0.94, percent) == "48% to 94%"
    assert glue.span(2e-5, 3e-3, glue.scientific) == "2 × 10⁻⁵ to 3 × 10⁻³"
    with pytest.raises(ValueError, match="low, high: expected low <= high, got 2, 1"):
        glue.span(2, 1, str)
