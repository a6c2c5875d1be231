"""`mailark --help` without Typer: the same page, drawn from the command table in a few milliseconds.

Importing Typer and Rich costs about 0.2 s of a 0.3 s budget (issue 16), more than the rest of the
process. The top-level page only needs the table (mailark.cli.commands), so it is drawn here in
Typer's layout (plain, without colours); every other command and `--help` of a command still
goes through Typer. tests/mailark/test_help_page.py checks it against Typer's own page.
"""

from __future__ import annotations

import os
import textwrap

from mailark.cli.commands import COMMANDS

SUMMARY = "mailark: multi-tenant email archive."
OPTIONS = (("--version", "<bool>", "Print the version and exit."),
           ("--help", "<bool>", "Show this message and exit."))


def page_width() -> int:
    """The width Rich would use: TERMINAL_WIDTH (Typer), COLUMNS, the terminal, else 80."""
    for var in ("TERMINAL_WIDTH", "COLUMNS"):
        value = os.environ.get(var, "")
        if value.isdigit() and int(value) > 0:
            return int(value)
    for fd in (0, 1, 2):
        try:
            return os.get_terminal_size(fd).columns
        except OSError:
            continue
    return 80


def _panel(title: str, rows: list[tuple[str, str]], width: int) -> list[str]:
    """A rounded box titled `title`: a first column as wide as its longest cell, then text wrapped."""
    first = max(len(a) for a, _ in rows)
    text_w = max(width - 4 - first - 2, 1)
    top = f"╭─ {title} " + "─" * (width - len(title) - 5) + "╮"
    lines = [top]
    for a, b in rows:
        wrapped = textwrap.wrap(b, text_w, break_on_hyphens=False) or [""]
        for i, part in enumerate(wrapped):
            cell = a if i == 0 else ""
            lines.append("│ " + cell.ljust(first) + "  " + part.ljust(text_w) + " │")
    lines.append("╰" + "─" * (width - 2) + "╯")
    return lines


def render(width: int) -> str:
    """The whole page, as `mailark --help` prints it at this width."""
    blank = " " * width
    lines = [blank, " Usage: mailark [OPTIONS] COMMAND [ARGS]...".ljust(width), blank,
             f" {SUMMARY}".ljust(width), blank]
    name_w = len("--version") + 8  # Typer's options table: name, type, help
    lines += _panel("Options", [(n.ljust(name_w) + t, h) for n, t, h in OPTIONS], width)
    lines += _panel("Commands", [(c.name, c.help) for c in COMMANDS], width)
    return "\n".join(lines) + "\n\n"
