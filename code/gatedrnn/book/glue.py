"""The bridge from a chapter's computations to its prose, which works outside the book's build too.

Every number the book's text quotes is computed in a cell and handed to the text with MyST-NB's ``glue``. A reader
who runs a chapter's notebook on Colab, on Binder or on a laptop has no MyST-NB, and needs none: there the values
are shown as ``glue`` would show them, or not at all when the chapter asked for no display.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any, Callable, Sequence

SCIENTIFIC = re.compile(r"(?<![\w.])(-?\d+(?:\.\d+)?)e([+-]?)(\d+)(?![\w.])")
SUPERSCRIPT = str.maketrans("0123456789-", "⁰¹²³⁴⁵⁶⁷⁸⁹⁻")


def glue(name: str, value: Any, display: bool = True) -> None:
    """MyST-NB's ``glue(name, value, display)`` where MyST-NB is installed; elsewhere ``value`` is displayed when
    ``display`` is true, and the name, which only the book's build reads, is dropped."""
    try:
        from myst_nb import glue as myst_glue
    except ImportError:
        if display:
            from IPython.display import display as show

            show(value)
        return
    myst_glue(name, value, display=display)


def glue_table(name: str, header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A table of computed values for the prose: a Markdown table of ``header`` and ``rows`` (each cell written with
    ``str``; ``$…$`` math allowed), glued under ``name`` as Markdown and returned. A chapter shows it with a
    ``glue:md`` directive of format ``myst`` naming ``name``, so that a paragraph keeps one headline number and the
    rest stand in a table. Outside the book's build the cell that made the table can print it."""
    if not isinstance(header, Sequence) or isinstance(header, str) or not header:
        raise ValueError(f"header: expected a non-empty sequence of column names, got {header!r}")
    lines = ["| " + " | ".join(map(str, header)) + " |", "|" + "---|" * len(header)]
    for index, row in enumerate(rows):
        if isinstance(row, str) or len(row) != len(header):
            raise ValueError(f"rows[{index}]: expected {len(header)} cells like the header, got {row!r}")
        cells = [str(cell).replace("|", "\\|").replace("\n", " ") for cell in row]
        lines.append("| " + " | ".join(cells) + " |")
    if len(lines) == 2:
        raise ValueError("rows: expected at least one row, got none")
    table = "\n".join(lines)
    from IPython.display import Markdown

    glue(name, Markdown(table), display=False)
    return table


def _power_of_ten(match: re.Match) -> str:
    mantissa, sign, digits = match.groups()
    exponent = int(digits) * (-1 if sign == "-" else 1)
    if float(mantissa) == 0:
        return mantissa
    if -2 <= exponent <= 3:  # 0.023 to 9,990: plain digits read better than a power of ten
        return f"{Decimal(mantissa).scaleb(exponent):f}".replace("-", "−")
    power = "10" + (str(exponent).translate(SUPERSCRIPT) if exponent != 1 else "")
    if mantissa in ("1", "1.0", "-1", "-1.0"):
        return ("−" if mantissa.startswith("-") else "") + power
    return f"{mantissa.replace('-', '−')} × {power}"


def powers_of_ten(text: str) -> str:
    """``text`` with every number in Python's scientific notation written as a reader expects: a power of ten for
    small and large numbers (``3e-45`` → 3 × 10⁻⁴⁵, ``1e-12`` → 10⁻¹², ``2.5e+06`` → 2.5 × 10⁶) and plain digits,
    with the same significant digits, between 0.01 and 10⁴ (``2.3e-01`` → 0.23, ``1.5e+02`` → 150)."""
    return SCIENTIFIC.sub(_power_of_ten, text)


def scientific(value: float, digits: int = 0) -> str:
    """``value`` with ``digits`` decimals in scientific notation, written as a power of ten (:func:`powers_of_ten`)."""
    return powers_of_ten(f"{value:.{digits}e}")


def count_of(count: int, total: int, noun: str, verb: tuple[str, str]) -> str:
    """A count as the subject of a clause, in every case a build can produce: ``count`` of ``total`` things (``noun``,
    singular; its plural adds "s") do ``verb`` (its singular and plural forms, such as ``("ends", "end")``).

    ``count_of(4, 4, "run", ("ends", "end"))`` is "all 4 runs end"; (2, 2) "both runs end"; (1, 1) "the run ends";
    (3, 4) "3 of 4 runs end"; (1, 4) "1 of 4 runs ends"; (0, 4) "none of the 4 runs ends"; (0, 1) "no run ends"."""
    if not (isinstance(count, int) and isinstance(total, int)) or not 0 <= count <= total or total < 1:
        raise ValueError(f"count, total: expected integers with 0 <= count <= total and total >= 1, "
                         f"got {count!r}, {total!r}")
    singular, plural = verb
    if total == 1:
        return f"the {noun} {singular}" if count else f"no {noun} {singular}"
    if count == total:
        return f"{'both' if total == 2 else f'all {total}'} {noun}s {plural}"
    if count == 0:
        return f"none of the {total} {noun}s {singular}"
    return f"{count} of {total} {noun}s {singular if count == 1 else plural}"


def span(low: float, high: float, write: Callable[[float], str]) -> str:
    """A range of measured values as the prose gives it: "``write(low)`` to ``write(high)``", or one value when the
    two read the same (the range collapsed at the precision shown)."""
    if low > high:
        raise ValueError(f"low, high: expected low <= high, got {low!r}, {high!r}")
    first, last = write(low), write(high)
    return first if first == last else f"{first} to {last}"
