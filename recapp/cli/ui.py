"""One terminal helper for errors, tables, progress and JSON output."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from recapp.errors import RecappError

# soft_wrap: lines are never broken for the terminal width, so logs and pipes keep one line per message.
# emoji off: image references are user text, and `localhost/recapp/nope:x: Container …` must not
# become "nope❌ Container" (rich's :x: code; escape() does not cover emoji codes).
console = Console(stderr=True, highlight=False, soft_wrap=True, emoji=False)
# Pipes and CI logs get a wide table rather than rich's 80-column default, so image names stay whole.
out = Console(highlight=False, soft_wrap=True, emoji=False, width=None if sys.stdout.isatty() else 160)


def debug_enabled() -> bool:
    return os.environ.get("RECAPP_DEBUG", "") not in ("", "0")


def plain_mode() -> bool:
    """Plain, line-by-line progress for CI logs and pipes; a live display on a terminal."""
    return bool(os.environ.get("CI")) or not sys.stderr.isatty()


def fail(exc: RecappError) -> None:
    # One line, whatever the terminal width; user-supplied text is never read as markup.
    console.print(f"[bold red]error:[/] {escape(str(exc))}", markup=True, highlight=False, soft_wrap=True)
    if exc.hint:
        console.print(exc.hint, markup=False)
    if exc.log_path:
        console.print(f"full log: {exc.log_path}", markup=False)


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, sort_keys=True, default=str) + "\n")


def print_table(headers: Sequence[str], rows: Sequence[Sequence[Any]], title: str | None = None) -> None:
    table = Table(title=title)
    for h in headers:
        table.add_column(h, overflow="fold")
    for row in rows:
        # Text, not str: cells carry user-supplied names and messages, never rich markup.
        table.add_row(*(Text("" if c is None else str(c)) for c in row))
    out.print(table)


class Progress:
    """Status line for long work: a spinner on a terminal, timestamped lines in plain mode."""

    def __init__(self, status: Any | None) -> None:
        self._status = status
        self._last = ""

    def step(self, text: str) -> None:
        if self._status is not None:
            self._status.update(text)
        elif text != self._last:
            console.print(f"… {text}", markup=False)
        self._last = text

    def line(self, text: str) -> None:
        """A line of the underlying tool's output: shown in the spinner only (the log keeps all)."""
        if self._status is not None and text.strip():
            self._status.update(f"{self._last}: {text.strip()[:100]}")


@contextmanager
def progress(title: str) -> Iterator[Progress]:
    if plain_mode():
        console.print(f"… {title}", markup=False)
        yield Progress(None)
    else:
        with console.status(title) as status:
            yield Progress(status)
