"""Rendering of tabular records (CSV rows, sheet rows, table rows) as readable text.

A row is written as ``header: value`` lines so that each chunk carries the column names its
values belong to: a chunk holding "Price: 12" answers "what does it cost?", a bare "12" does not.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from itertools import zip_longest

__all__ = ["MAX_COLUMNS", "MAX_ROWS", "cell_text", "render_record", "render_rows"]

# Bounds on what one sheet or CSV file contributes: a generated export of a million rows would
# otherwise become hours of embedding for data that retrieval cannot use well anyway.
MAX_ROWS = 100_000
MAX_COLUMNS = 256


def cell_text(value: object) -> str:
    """The text of one cell: integral floats without ``.0``, dates in ISO form, None as ''."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    if isinstance(value, dt.datetime) and value.time() == dt.time():
        return value.date().isoformat()
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    return " ".join(str(value).split())


def render_record(headers: Sequence[str], values: Sequence[str]) -> str:
    """Render one row as ``header: value`` lines, skipping empty values.

    Columns beyond the header are named ``Column N``.
    """
    lines = []
    for number, (header, value) in enumerate(zip_longest(headers, values, fillvalue=""), 1):
        if value:
            lines.append(f"{header or f'Column {number}'}: {value}")
    return "\n".join(lines)


def render_rows(rows: Sequence[Sequence[str]]) -> str:
    """Render a table whose first non-empty row is its header; records are blank-line separated.

    A table of one row (or one column) has no header to speak of: its cells are joined instead.
    """
    rows = [row for row in rows if any(row)]
    if not rows:
        return ""
    header, body = rows[0], rows[1:]
    if not body or len(header) < 2:
        return "\n".join(" | ".join(cell for cell in row if cell) for row in rows)
    return "\n\n".join(filter(None, (render_record(header, row) for row in body)))
