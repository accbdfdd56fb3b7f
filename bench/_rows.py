"""The rows every benchmark reports, and the one table ``make bench`` prints from them.

A row is one figure (``value`` in ``unit``), what it is compared with in the same run
(``against``, with that figure), the ratio of the two costs, and the goal, if any. A script run
with ``--json`` prints its rows as a JSON list on stdout and its detailed report on stderr.
"""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, fields
from typing import Any

__all__ = ["Row", "emit", "fmt", "table"]


@dataclass
class Row:
    """One measured figure and its ratio to a floor (or rival) measured in the same run.

    ``ratio`` is the cost of what the row measures divided by the cost of ``against`` (for rates,
    the inverse of the rates), so below 1 means cheaper. ``met`` is None where there is no goal;
    ``note`` says why a figure is missing (``value`` None).
    """

    area: str
    measure: str
    value: float | None
    unit: str
    against: str = ""
    ratio: float | None = None
    goal: str = ""
    met: bool | None = None
    note: str = ""

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Row:
        """A row from its JSON form (unknown keys ignored)."""
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


def fmt(value: float, unit: str = "") -> str:
    """A figure with a sensible number of digits, and its unit."""
    if value >= 1000:
        text = f"{value:,.0f}"
    elif value >= 100:
        text = f"{value:.0f}"
    elif value >= 10:
        text = f"{value:.1f}"
    elif value >= 0.1 or value == 0:
        text = f"{value:.2f}"
    else:
        text = f"{value:.3g}"
    return f"{text} {unit}".rstrip()


def emit(json_mode: bool, measure: Callable[[], list[Row]]) -> int:
    """Run `measure`; with `json_mode`, its printed report goes to stderr and the rows, as a
    JSON list, to stdout. Returns the exit status."""
    if not json_mode:
        measure()
        return 0
    with contextlib.redirect_stdout(sys.stderr):
        rows = measure()
    print(json.dumps([asdict(r) for r in rows]))
    return 0


def _cells(rows: Iterable[Row], notes: list[str]) -> Iterator[list[str]]:
    for row in rows:
        if row.value is None:
            notes.append(f"{row.area}, {row.measure}: {row.note}")
            value = f"not measured [{len(notes)}]"
        else:
            value = fmt(row.value, row.unit)
            if row.note:
                notes.append(f"{row.area}, {row.measure}: {row.note}")
                value += f" [{len(notes)}]"
        ok = "" if row.met is None else ("yes" if row.met else "NO")
        ratio = "" if row.ratio is None else fmt(row.ratio)
        yield [row.area, row.measure, value, row.against, ratio, row.goal, ok]


def table(rows: list[Row]) -> str:
    """The rows as one aligned text table, with footnotes for missing figures."""
    head = ["area", "measure", "value", "against (same run)", "ratio", "goal", "ok"]
    notes: list[str] = []
    body = list(_cells(rows, notes))
    widths = [max(len(r[i]) for r in [head, *body]) for i in range(len(head))]
    right = {2, 4}  # figures align right

    def line(cells: list[str]) -> str:
        return " | ".join(
            c.rjust(w) if i in right else c.ljust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        ).rstrip()

    out = [line(head), "-+-".join("-" * w for w in widths)]
    previous = None
    for cells in body:
        if previous is not None and cells[0] != previous:
            out.append("-+-".join("-" * w for w in widths))
        previous = cells[0]
        out.append(line(cells))
    out.extend(f"[{i}] {n}" for i, n in enumerate(notes, 1))
    return "\n".join(out)
