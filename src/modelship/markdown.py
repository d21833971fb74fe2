"""Markdown for job summaries: tables and Mermaid charts. No GitHub knowledge here."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence


def escape(value: object) -> str:
    text = "-" if value is None else (f"{value:.4g}" if isinstance(value, float) else str(value))
    return text.replace("|", "\\|").replace("\n", " ")


def table(headers: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    out = ["| " + " | ".join(escape(h) for h in headers) + " |",
           "|" + "|".join("---" for _ in headers) + "|"]
    out += ["| " + " | ".join(escape(c) for c in row) + " |" for row in rows]
    return "\n".join(out) + "\n"


def mermaid(body: str) -> str:
    return f"```mermaid\n{body.strip()}\n```\n"


def bar_chart(title: str, labels: Sequence[str], series: Mapping[str, Sequence[float]],
              y_label: str = "") -> str:
    """A Mermaid xychart with one bar series per entry of `series` (e.g. candidate, baseline)."""
    quoted = ", ".join(f'"{label}"' for label in labels)
    lines = ["xychart-beta", f'    title "{title}"', f"    x-axis [{quoted}]"]
    if y_label:
        lines.append(f'    y-axis "{y_label}"')
    for values in series.values():
        lines.append("    bar [" + ", ".join(f"{v:.4g}" for v in values) + "]")
    return mermaid("\n".join(lines))
