"""Find manifest files and read them as text, bounded and with clear problems."""

from __future__ import annotations

import errno
import gc
import os
import stat
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass

from piqc_advisor.collectors.yaml_source import Document, Problem, parse_documents

DEFAULT_MAX_FILE_BYTES = 32 * 1024 * 1024
MANIFEST_SUFFIXES = (".yaml", ".yml", ".json")
STDIN_NAME = "<stdin>"
_SNIFF_BYTES = 8192
_BOM = b"\xef\xbb\xbf"


@dataclass(frozen=True)
class InputFile:
    """The decoded text of one input, under the name the user knows it by."""

    path: str
    text: str


@dataclass(frozen=True)
class PendingFile:
    """A file found by the walk and not read yet: where it is, its name for the user, its size."""

    path: str
    shown: str
    size: int

    def read(self, limit: int) -> InputFile | Problem:
        return _read_file(self.path, self.shown, self.size, limit)


Planned = InputFile | Problem | PendingFile


def _display(path: str) -> str:
    """The path relative to the working directory when it lies under it."""
    absolute = os.path.abspath(path)
    cwd = os.getcwd()
    if absolute == cwd:
        return "."
    if absolute.startswith(cwd.rstrip(os.sep) + os.sep):
        return os.path.relpath(absolute, cwd)
    return os.path.normpath(path)


def _problem(path: str, code: str, message: str, line: int | None = None) -> Problem:
    return Problem(path, line, None, "error", code, message)


def _os_problem(path: str, exc: OSError) -> Problem:
    if exc.errno == errno.ELOOP:
        return _problem(path, "symlink-loop", f"{path}: symbolic links loop back on themselves")
    if isinstance(exc, FileNotFoundError):
        if os.path.islink(path):
            target = os.readlink(path)
            reason = f"broken symbolic link (its target {target} does not exist)"
        else:
            reason = "no such file or directory"
    elif isinstance(exc, PermissionError):
        reason = "permission denied"
    else:
        reason = exc.strerror or str(exc)
    return _problem(path, "unreadable", f"cannot read {path}: {reason}")


def _decode(raw: bytes, shown: str) -> InputFile | Problem:
    """Turn bytes into text, refusing binary and non-UTF-8 content."""
    if b"\x00" in raw[:_SNIFF_BYTES]:
        return _problem(shown, "binary-file", f"{shown} is a binary file (it holds NUL bytes)")
    if raw.startswith(_BOM):
        raw = raw[len(_BOM) :]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        bad = raw[exc.start : exc.start + 1].hex()
        return _problem(
            shown,
            "not-utf8",
            f"{shown} is not UTF-8 text: byte 0x{bad} on line {line} cannot be decoded",
            line,
        )
    return InputFile(shown, text)


def _too_large(shown: str, size: int | None, limit: int) -> Problem:
    amount = f"{size:,} bytes" if size is not None else "more bytes"
    return _problem(
        shown,
        "file-too-large",
        f"{shown} is {amount}, over the {limit:,}-byte limit; it was not read",
    )


def _read_file(path: str, shown: str, size: int, limit: int) -> InputFile | Problem:
    if size > limit:
        return _too_large(shown, size, limit)
    try:
        with open(path, "rb") as handle:
            raw = handle.read(limit + 1)
    except OSError as exc:
        return _os_problem(shown, exc)
    if len(raw) > limit:
        return _too_large(shown, None, limit)
    return _decode(raw, shown)


def _read_stdin(limit: int) -> InputFile | Problem:
    stream = sys.stdin
    buffer = getattr(stream, "buffer", None)
    if buffer is not None:
        raw: bytes = buffer.read(limit + 1)
    else:
        raw = stream.read(limit + 1).encode("utf-8", "surrogateescape")
    if len(raw) > limit:
        return _too_large(STDIN_NAME, None, limit)
    return _decode(raw, STDIN_NAME)


class _Walker:
    """Walks the given paths once, remembering what it has already read."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.seen_files: set[tuple[int, int]] = set()
        self.seen_dirs: set[tuple[int, int]] = set()
        self.stdin_read = False

    def path(self, given: str) -> Iterator[Planned]:
        if given == "-":
            if not self.stdin_read:
                self.stdin_read = True
                yield _read_stdin(self.limit)
            return
        shown = _display(given)
        try:
            info = os.stat(given)
        except OSError as exc:
            yield _os_problem(shown, exc)
            return
        if stat.S_ISDIR(info.st_mode):
            yield from self.directory(given, info, ())
        else:
            yield from self.file(given, shown, info)

    def file(self, path: str, shown: str, info: os.stat_result) -> Iterator[Planned]:
        identity = (info.st_dev, info.st_ino)
        if identity in self.seen_files:
            return
        self.seen_files.add(identity)
        size = info.st_size if stat.S_ISREG(info.st_mode) else 0
        yield PendingFile(path, shown, size)

    def directory(
        self, path: str, info: os.stat_result, ancestors: tuple[tuple[int, int], ...]
    ) -> Iterator[Planned]:
        identity = (info.st_dev, info.st_ino)
        if identity in ancestors:
            shown = _display(path)
            yield _problem(
                shown,
                "symlink-loop",
                f"{shown} links back to a directory that contains it; not followed again",
            )
            return
        if identity in self.seen_dirs:
            return
        self.seen_dirs.add(identity)
        try:
            with os.scandir(path) as scan:
                entries = sorted(scan, key=lambda entry: entry.name)
        except OSError as exc:
            yield _os_problem(_display(path), exc)
            return
        inside = (*ancestors, identity)
        for entry in entries:
            if entry.name.startswith("."):
                continue
            child = os.path.join(path, entry.name)
            is_manifest = entry.name.lower().endswith(MANIFEST_SUFFIXES)
            try:
                child_info = os.stat(child)
            except OSError as exc:
                if is_manifest or exc.errno == errno.ELOOP:
                    yield _os_problem(_display(child), exc)
                continue
            if stat.S_ISDIR(child_info.st_mode):
                yield from self.directory(child, child_info, inside)
            elif is_manifest and stat.S_ISREG(child_info.st_mode):
                yield from self.file(child, _display(child), child_info)


def discover(
    paths: Sequence[str], max_file_bytes: int = DEFAULT_MAX_FILE_BYTES
) -> Iterator[InputFile | Problem]:
    """Yield the text of each input file (or a Problem), in a stable order.

    Named files are read whatever their extension; directories are walked
    recursively for *.yaml, *.yml and *.json, in name order, skipping hidden
    entries; "-" reads standard input once. Symbolic links are followed, and
    loops among them are reported rather than followed forever.
    """
    for item in plan(paths, max_file_bytes):
        yield item.read(max_file_bytes) if isinstance(item, PendingFile) else item


def plan(paths: Sequence[str], max_file_bytes: int = DEFAULT_MAX_FILE_BYTES) -> Iterator[Planned]:
    """The walk of `discover` without reading files: they come as PendingFile, in order.

    Standard input is read here (it can be read only once, by this process).
    """
    walker = _Walker(max_file_bytes)
    for given in paths:
        yield from walker.path(given)


def read_all(
    paths: Sequence[str],
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES,
    on_file: Callable[[InputFile, list[Document]], None] | None = None,
) -> tuple[list[Document], list[Problem]]:
    """Discover and parse every input: all documents and all problems, in order.

    The cyclic garbage collector is paused meanwhile: the parsed data is acyclic,
    and collections over the growing set of kept documents would otherwise cost
    about as much as the parsing itself on large inputs.
    """
    return read_planned(plan(paths, max_file_bytes), max_file_bytes, on_file)


def read_planned(
    items: Iterable[Planned],
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES,
    on_file: Callable[[InputFile, list[Document]], None] | None = None,
) -> tuple[list[Document], list[Problem]]:
    """Read and parse planned inputs, in order, like `read_all` (collector paused)."""
    documents: list[Document] = []
    problems: list[Problem] = []
    collecting = gc.isenabled()
    gc.disable()
    try:
        for planned in items:
            item = planned.read(max_file_bytes) if isinstance(planned, PendingFile) else planned
            if isinstance(item, Problem):
                problems.append(item)
                continue
            found, trouble = parse_documents(item.text, item.path)
            if on_file is not None:
                on_file(item, found)
            documents.extend(found)
            problems.extend(trouble)
    finally:
        if collecting:
            gc.enable()
    return documents, problems
