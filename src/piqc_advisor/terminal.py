"""Terminal output: rich tables on a terminal, plain aligned text when piped."""

from __future__ import annotations

import gc
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TextIO

import click
import yaml

from piqc_advisor.json_text import json_bytes

if TYPE_CHECKING:
    from rich.console import Console


@dataclass(frozen=True)
class TextTable:
    """A table to show: the same data renders as rich or as plain text."""

    headers: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    title: str | None = None
    footer: tuple[str, ...] = field(default=())


def plain_table(table: TextTable) -> str:
    """Aligned columns separated by two spaces; the last column is not padded."""
    widths = [len(h) for h in table.headers]
    for row in table.rows:
        for index, cell in enumerate(row):
            widths[index] = max(widths[index], len(cell))
    lines: list[str] = []
    if table.title:
        lines.append(table.title)
    for row in (table.headers, *table.rows):
        padded = [cell.ljust(widths[i]) for i, cell in enumerate(row[:-1])]
        lines.append("  ".join([*padded, row[-1]]).rstrip())
    lines.extend(table.footer)
    return "\n".join(lines) + "\n"


class Output:
    """Where the CLI writes; decides once whether the stream is a terminal."""

    def __init__(self, stream: TextIO | None = None, force_plain: bool = False) -> None:
        self.stream = stream or sys.stdout
        self.rich = not force_plain and self.stream.isatty()
        self._console: Console | None = None

    @property
    def console(self) -> Console:
        """Rich's console, made (and rich imported) only when a terminal is written to."""
        if self._console is None:
            from rich.console import Console

            self._console = Console(file=self.stream, highlight=False, soft_wrap=False)
        return self._console

    def table(self, table: TextTable) -> None:
        if not self.rich:
            self.stream.write(plain_table(table))
            return
        from rich.table import Table

        rich_table = Table(title=table.title, title_justify="left", show_lines=False)
        for header in table.headers:
            rich_table.add_column(header, overflow="fold")
        for row in table.rows:
            rich_table.add_row(*row)
        self.console.print(rich_table)
        for line in table.footer:
            self.console.print(line, markup=False)

    def text(self, text: str) -> None:
        if self.rich:
            self.console.print(text, markup=False)
        else:
            self.stream.write(text if text.endswith("\n") else text + "\n")

    def heading(self, text: str) -> None:
        if self.rich:
            self.console.print(f"[bold]{_escape(text)}[/bold]")
        else:
            self.stream.write(text + "\n")

    def json(self, data: Any) -> None:
        self.stream.write(dump_json(data))


def dump_json(data: Any) -> str:
    """Stable, readable JSON: sorted keys are not used, insertion order is the contract."""
    return _dumps(data, indent=True) + "\n"


def dump_json_for(stream: TextIO, data: Any) -> str:
    """Indented JSON for a person at a terminal; one compact line for pipes and files."""
    return _dumps(data, indent=stream.isatty()) + "\n"


def _dumps(data: Any, indent: bool) -> str:
    return json_bytes(data, indent).decode("utf-8")


def pause_gc_for_this_command() -> None:
    """Pause the cyclic collector until the command ends.

    Scans and /metrics bodies build large acyclic data; the collector's passes over it cost
    a fifth to two fifths of such a run (docs/benchmarks.md) and free nothing.
    """
    if gc.isenabled():
        gc.disable()
        click.get_current_context().call_on_close(gc.enable)


class _PlainDumper(yaml.SafeDumper):
    """Writes a value shared by two places twice instead of as an &anchor / *alias pair."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def dump_yaml(data: Any) -> str:
    """YAML for people and tools alike: insertion order, Unicode as is, no anchors."""
    text: str = yaml.dump(data, Dumper=_PlainDumper, sort_keys=False, allow_unicode=True, width=100)
    return text


def _escape(text: str) -> str:
    return text.replace("[", r"\[")


def join(values: Sequence[str], empty: str = "-") -> str:
    return ", ".join(values) if values else empty
