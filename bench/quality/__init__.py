"""Quality of the per-event evaluators on the public data in ../shared/data.

One module per evaluator; each exposes ``rows(data_dir) -> list[dict]`` that
``bench/evaluators.py`` prints as one table. Nothing here prints dataset text.
"""

from collections.abc import Sequence


def format_table(rows: Sequence[dict[str, object]], columns: Sequence[str] | None = None) -> str:
    """Plain aligned text: floats to 3 decimals, "-" where a column does not apply. The
    columns default to the union of the rows' keys, in first-seen order."""
    cols: list[str] = list(columns) if columns is not None else []
    if columns is None:
        for r in rows:
            cols += [k for k in r if k not in cols]

    def cell(v: object) -> str:
        if v is None:
            return "-"
        return f"{v:.3f}" if isinstance(v, float) else str(v)

    body = [[cell(r.get(c)) for c in cols] for r in rows]
    widths = [max([len(c)] + [len(b[i]) for b in body]) for i, c in enumerate(cols)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(cols, widths, strict=True)),
             "  ".join("-" * w for w in widths)]
    lines += ["  ".join(v.ljust(w) for v, w in zip(b, widths, strict=True)) for b in body]
    return "\n".join(lines)

