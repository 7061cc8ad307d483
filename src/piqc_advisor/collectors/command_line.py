"""Turn a Kubernetes container's command, args and env into the argv a server really runs."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Literal

__all__ = [
    "IMAGE_ENTRYPOINT",
    "LEGACY_API_SERVER",
    "OPENAI_API_SERVER",
    "SERVE",
    "EffectiveArgv",
    "ShellCommand",
    "Token",
    "effective_argv",
    "expand_k8s_vars",
    "find_vllm_invocation",
    "resolve_argv",
]

Source = Literal["command", "args"]


def basename(path: str) -> str:
    """The last component of a POSIX path (what PurePosixPath(path).name gives, but cheaper)."""
    return path.rstrip("/").rsplit("/", 1)[-1] if path.strip("/") else ""


# Values the caller knows (literal `value:` entries). A name mapped to None is known to
# exist but its value is not (valueFrom a Secret or ConfigMap): it stays as written.
Env = Mapping[str, str | None]


@dataclass(frozen=True)
class Token:
    """One argv element, with where it was written in the container spec."""

    text: str
    source: Source
    index: int
    from_shell: bool = False


# --------------------------------------------------------------------------------------
# Kubernetes $(VAR) expansion
# --------------------------------------------------------------------------------------


def expand_k8s_vars(s: str, env: Env) -> str:
    """Expand ``$(VAR)`` references the way the kubelet does for command, args and env.

    ``$$`` is an escaped ``$``; a reference to a name that is not in ``env`` (or whose value
    is unknown) is left exactly as written; an unclosed ``$(`` is literal text.
    """
    if "$" not in s:
        return s
    out: list[str] = []
    i = 0
    n = len(s)
    while i < n:
        ch = s[i]
        if ch != "$" or i + 1 >= n:
            out.append(ch)
            i += 1
            continue
        nxt = s[i + 1]
        if nxt == "$":
            out.append("$")
            i += 2
        elif nxt == "(":
            close = s.find(")", i + 2)
            if close < 0:
                out.append("$(")
                i += 2
                continue
            name = s[i + 2 : close]
            value = env.get(name)
            out.append(value if value is not None else f"$({name})")
            i = close + 1
        else:
            out.append("$" + nxt)
            i += 2
    return "".join(out)


# --------------------------------------------------------------------------------------
# A small POSIX-shell reader for `sh -c` scripts
# --------------------------------------------------------------------------------------

_SHELLS = {"sh", "bash", "dash", "ash", "zsh", "ksh"}
_OPERATORS = ("&&", "||", ";;", ";", "&", "|", "(", ")", "\n")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_ASSIGN = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)=")
_REDIRECT = re.compile(r"^\d*(>>?|<|>&|<&)$")
_PLAIN_RUN = re.compile(r"[^\\'\" \t\r;&|()\n<>$`]+")


@dataclass(frozen=True)
class _Part:
    text: str
    quote: Literal["none", "single", "double"]


@dataclass
class _Word:
    parts: list[_Part] = field(default_factory=list)

    def raw(self) -> str:
        return "".join(p.text for p in self.parts)


def _lex(script: str) -> list[_Word | str]:
    """Split a script into words (keeping quoting) and control operators."""
    items: list[_Word | str] = []
    word: _Word | None = None
    i = 0
    n = len(script)

    def add(text: str, quote: Literal["none", "single", "double"]) -> None:
        nonlocal word
        if word is None:
            word = _Word()
        if word.parts and word.parts[-1].quote == quote:
            word.parts[-1] = _Part(word.parts[-1].text + text, quote)
        else:
            word.parts.append(_Part(text, quote))

    def finish() -> None:
        nonlocal word
        if word is not None:
            items.append(word)
            word = None

    while i < n:
        ch = script[i]
        if ch == "\\":
            if i + 1 < n and script[i + 1] == "\n":
                i += 2  # line continuation
                continue
            if i + 1 < n:
                add(script[i + 1], "single")
                i += 2
                continue
            add("\\", "single")
            i += 1
        elif ch == "'":
            close = script.find("'", i + 1)
            close = n if close < 0 else close
            add(script[i + 1 : close], "single")
            if word is None:  # '' still makes an (empty) word
                word = _Word()
            i = close + 1
        elif ch == '"':
            j = i + 1
            buf: list[str] = []
            while j < n and script[j] != '"':
                if script[j] == "\\" and j + 1 < n and script[j + 1] in '$`"\\\n':
                    if script[j + 1] != "\n":
                        # An escaped $ must not expand: mark it with a single-quoted part.
                        if buf:
                            add("".join(buf), "double")
                            buf = []
                        add(script[j + 1], "single")
                    j += 2
                    continue
                buf.append(script[j])
                j += 1
            add("".join(buf), "double")
            if word is None:
                word = _Word()
            i = j + 1
        elif ch in " \t\r":
            finish()
            i += 1
        elif ch == "#" and word is None:
            while i < n and script[i] != "\n":
                i += 1
        elif ch in ";&|()\n<>":
            if ch in "<>":
                # Redirection: "2>" (digits glued to it) belongs to the operator.
                if word is not None and word.raw().isdigit() and len(word.parts) == 1:
                    prefix = word.raw()
                    word = None
                else:
                    finish()
                    prefix = ""
                op = ch
                if i + 1 < n and script[i + 1] in ">&":
                    op += script[i + 1]
                items.append(prefix + op)
                i += len(op)
                continue
            finish()
            op = next(o for o in _OPERATORS if script.startswith(o, i))
            items.append(op)
            i += len(op)
        elif ch == "$" and i + 1 < n and script[i + 1] == "(":
            # Command or arithmetic substitution: keep it verbatim (never evaluated).
            depth = 0
            j = i + 1
            while j < n:
                if script[j] == "(":
                    depth += 1
                elif script[j] == ")":
                    depth -= 1
                    if depth == 0:
                        break
                j += 1
            add(script[i : j + 1], "single")
            i = j + 1
        elif ch == "`":
            close = script.find("`", i + 1)
            close = n if close < 0 else close
            add(script[i : close + 1], "single")
            i = close + 1
        else:
            # A run of ordinary characters at once ("$" not starting "$(" is taken alone).
            run = _PLAIN_RUN.match(script, i)
            end = run.end() if run is not None else i + 1
            add(script[i:end], "none")
            i = end
    finish()
    return items


_PARAM = re.compile(r"\$(?:\{([^}]*)\}|([A-Za-z_][A-Za-z0-9_]*)|([0-9@*#?$!-]))")


def _expand_text(text: str, lookup: Mapping[str, str | None]) -> str:
    """Expand $VAR, ${VAR}, ${VAR:-word} and friends; unknown names stay as written."""

    def repl(m: re.Match[str]) -> str:
        braced, plain, special = m.group(1), m.group(2), m.group(3)
        if plain is not None:
            value = lookup.get(plain)
            return value if value is not None else m.group(0)
        if special is not None:
            value = lookup.get(special)
            return value if value is not None else m.group(0)
        body = braced or ""
        op = re.match(r"([A-Za-z_][A-Za-z0-9_]*|[0-9]+)(:?[-=+?])?(.*)$", body, re.S)
        if op is None:
            return m.group(0)
        name, kind, word = op.group(1), op.group(2), op.group(3)
        if kind is None:
            if word:
                return m.group(0)  # ${VAR#pat}, ${VAR/x/y}, ...: not evaluated
            value = lookup.get(name)
            return value if value is not None else m.group(0)
        known = name in lookup
        value = lookup.get(name)
        if known and value is None:
            return m.group(0)  # set, but to something we cannot see
        is_set = value is not None
        non_empty = bool(value)
        use_value = non_empty if kind.startswith(":") else is_set
        word_value = _expand_text(word, lookup)
        if kind.endswith("-") or kind.endswith("="):
            return value if use_value and value is not None else word_value
        if kind.endswith("+"):
            return word_value if use_value else ""
        return value if use_value and value is not None else m.group(0)

    return _PARAM.sub(repl, text)


def _expand_word(word: _Word, lookup: Mapping[str, str | None]) -> list[str]:
    """Expand one word; unquoted expansions are split into fields as the shell does."""
    fields: list[str] = []
    current: list[str] = []
    had_quote = False
    for part in word.parts:
        if part.quote == "single":
            current.append(part.text)
            had_quote = True
        elif part.quote == "double":
            current.append(_expand_text(part.text, lookup))
            had_quote = True
        else:
            pos = 0
            for m in _PARAM.finditer(part.text):
                current.append(part.text[pos : m.start()])
                value = _expand_text(m.group(0), lookup)
                if value == m.group(0):
                    current.append(value)
                else:
                    pieces = value.split()
                    if value[:1].isspace() and (current or had_quote):
                        fields.append("".join(current))
                        current, had_quote = [], False
                    for k, piece in enumerate(pieces):
                        if k:
                            fields.append("".join(current))
                            current, had_quote = [], False
                        current.append(piece)
                    if value[-1:].isspace() and pieces:
                        fields.append("".join(current))
                        current, had_quote = [], False
                pos = m.end()
            current.append(part.text[pos:])
    text = "".join(current)
    if text or had_quote:
        fields.append(text)
    return fields


@dataclass(frozen=True)
class ShellCommand:
    """One simple command of an ``sh -c`` script, after expansion."""

    words: tuple[str, ...]
    assignments: tuple[tuple[str, str], ...]


def _split_commands(items: list[_Word | str]) -> list[list[_Word | str]]:
    commands: list[list[_Word | str]] = [[]]
    for item in items:
        if isinstance(item, str) and not _REDIRECT.match(item):
            if commands[-1]:
                commands.append([])
            continue
        commands[-1].append(item)
    return [c for c in commands if c]


def _run_script(script: str, env: Env, positional: Sequence[str]) -> list[ShellCommand]:
    """Walk the script's commands in order, tracking variables it assigns and exports."""
    variables: dict[str, str | None] = dict(env)
    for k, value in enumerate(positional):
        variables[str(k)] = value
    commands: list[ShellCommand] = []
    for raw in _split_commands(_lex(script)):
        words: list[str] = []
        skip_next = False
        for item in raw:
            if skip_next:
                skip_next = False
                continue
            if isinstance(item, str):  # redirection: drop it and its target
                skip_next = True
                continue
            words.extend(_expand_word(item, variables))
        # Leading NAME=value words are assignments (for the command, or the shell).
        assigns: list[tuple[str, str]] = []
        while words and (m := _ASSIGN.match(words[0])) and _first_part_unquoted(raw, len(assigns)):
            assigns.append((m.group(1), words[0][m.end() :]))
            words.pop(0)
        if not words:
            for name, value in assigns:
                variables[name] = value
            continue
        if words[0] in ("export", "readonly", "declare", "typeset", "local"):
            for w in words[1:]:
                if (m := _ASSIGN.match(w)) is not None:
                    variables[m.group(1)] = w[m.end() :]
            continue
        commands.append(ShellCommand(tuple(words), tuple(assigns)))
    return commands


def _first_part_unquoted(raw: list[_Word | str], index: int) -> bool:
    words = [w for w in raw if isinstance(w, _Word)]
    if index >= len(words) or not words[index].parts:
        return False
    return words[index].parts[0].quote == "none"


def _strip_wrappers(words: Sequence[str]) -> int:
    """Index of the real program after exec / env / nohup style prefixes."""
    i = 0
    while i < len(words):
        w = words[i]
        base = basename(w)
        if base in ("exec", "nohup", "time", "command", "stdbuf"):
            i += 1
            while i < len(words) and words[i].startswith("-") and base != "nohup":
                i += 1
            continue
        if base == "env":
            i += 1
            while i < len(words) and (words[i].startswith("-") or _ASSIGN.match(words[i])):
                i += 1
            continue
        break
    return i


def _shell_script_index(argv: Sequence[Token]) -> int | None:
    """Position of the script operand when argv is ``sh [-opts] -c SCRIPT ...``."""
    if not argv or basename(argv[0].text) not in _SHELLS:
        return None
    i = 1
    while i < len(argv):
        t = argv[i].text
        if t in ("-o", "+o"):
            i += 2
            continue
        if t.startswith("-") and t != "-" and not t.startswith("--"):
            if "c" in t[1:]:
                return i + 1 if i + 1 < len(argv) else None
            i += 1
            continue
        if t.startswith("--"):
            i += 1
            continue
        return None
    return None


# --------------------------------------------------------------------------------------
# Effective argv
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class EffectiveArgv:
    """What the container runs, as far as the spec alone can tell."""

    tokens: tuple[Token, ...]
    # False when `command` is absent: the image ENTRYPOINT runs first and is not in the spec.
    entrypoint_known: bool
    # Set when argv is `sh -c SCRIPT`: the index of the script element and its commands.
    shell_script: Token | None = None
    shell_commands: tuple[ShellCommand, ...] = ()
    # Assignments written just before the serving command inside the script (VAR=x cmd).
    shell_assignments: tuple[tuple[str, str], ...] = ()
    # True when a serving command was found inside the script and tokens hold only it.
    flattened: bool = False


def _tokens(values: Iterable[str] | None, source: Source, env: Env) -> list[Token]:
    return [Token(expand_k8s_vars(v, env), source, i) for i, v in enumerate(values or ())]


def resolve_argv(
    command: Sequence[str] | None, args: Sequence[str] | None, env: Env
) -> EffectiveArgv:
    """Build the effective argv (command + args), flattening ``sh -c`` scripts when possible.

    Kubernetes semantics: ``command`` replaces the image ENTRYPOINT, ``args`` replace its CMD.
    When ``command`` is absent the entrypoint is whatever the image says: not known here.
    """
    argv = _tokens(command, "command", env) + _tokens(args, "args", env)
    entrypoint_known = bool(command)
    script_at = _shell_script_index(argv) if entrypoint_known else None
    if script_at is None:
        return EffectiveArgv(tuple(argv), entrypoint_known)
    script = argv[script_at]
    positional = [t.text for t in argv[script_at + 1 :]]
    commands = _run_script(script.text, env, positional)
    for cmd in commands:
        words = list(cmd.words)
        start = _strip_wrappers(words)
        program = words[start:]
        shell_tokens = [Token(w, script.source, script.index, True) for w in program]
        if find_vllm_invocation(shell_tokens) is not None or _runs_other_server(program):
            return EffectiveArgv(
                tuple(shell_tokens),
                entrypoint_known,
                script,
                tuple(commands),
                cmd.assignments,
                True,
            )
    return EffectiveArgv(tuple(argv), entrypoint_known, script, tuple(commands))


# Programs and Python modules of the other serving engines, so a script is flattened to them too.
_SERVER_PROGRAMS = frozenset(
    {
        "text-generation-launcher",
        "text-embeddings-router",
        "tritonserver",
        "trtllm-serve",
        "llama-server",
        "ollama",
    }
)
_SERVER_MODULE = re.compile(
    r"^(sglang\.launch_server|dynamo\.(vllm|sglang|trtllm)|huggingfaceserver|"
    r"tensorrt_llm\.commands\.serve)$"
)


def _runs_other_server(words: Sequence[str]) -> bool:
    """True when a script command starts a known non-vLLM serving engine."""
    if not words:
        return False
    if basename(words[0]) in _SERVER_PROGRAMS:
        return True
    if not _PYTHON.match(basename(words[0])):
        return False
    for i, word in enumerate(words[1:-1], start=1):
        if word == "-m":
            return bool(_SERVER_MODULE.match(words[i + 1]))
    return False


def effective_argv(
    command: Sequence[str] | None, args: Sequence[str] | None, env: Env
) -> list[Token]:
    """Tokens the container runs; an ``sh -c`` script is reduced to its serving command."""
    return list(resolve_argv(command, args, env).tokens)


# --------------------------------------------------------------------------------------
# Finding the vLLM server invocation
# --------------------------------------------------------------------------------------

SERVE = "vllm serve"
OPENAI_API_SERVER = "vllm.entrypoints.openai.api_server"
LEGACY_API_SERVER = "vllm.entrypoints.api_server"
IMAGE_ENTRYPOINT = "image entrypoint (vllm serve)"

_PYTHON = re.compile(r"python(\d+(\.\d+)*)?$")
_MODULES = {
    "vllm.entrypoints.openai.api_server": OPENAI_API_SERVER,
    "vllm.entrypoints.api_server": LEGACY_API_SERVER,
}
# Python interpreter options that take a separate value.
_PY_OPTS_WITH_VALUE = {"-W", "-X", "-c", "--check-hash-based-pycs"}


def _module_from_path(text: str) -> str | None:
    """``.../vllm/entrypoints/openai/api_server.py`` -> the module name, if a known one."""
    if not text.endswith(".py"):
        return None
    parts = PurePosixPath(text[:-3]).parts
    for module, kind in _MODULES.items():
        names = tuple(module.split("."))
        if parts[-len(names) :] == names:
            return kind
    return None


def _match_at(tokens: Sequence[Token], i: int) -> tuple[str, int] | None:
    base = basename(tokens[i].text)
    if base == "vllm":
        if i + 1 < len(tokens) and tokens[i + 1].text == "serve":
            return SERVE, i + 2
        return None
    if tokens[i].text in _MODULES:
        return _MODULES[tokens[i].text], i + 1
    if not _PYTHON.match(base):
        return None
    j = i + 1
    while j < len(tokens):
        t = tokens[j].text
        if t == "-m" and j + 1 < len(tokens):
            module = tokens[j + 1].text
            if module in _MODULES:
                return _MODULES[module], j + 2
            serve_at = j + 2
            if (
                module == "vllm.entrypoints.cli.main"
                and serve_at < len(tokens)
                and tokens[serve_at].text == "serve"
            ):
                return SERVE, j + 3
            return None
        if t.startswith("-m") and t[2:] in _MODULES:
            return _MODULES[t[2:]], j + 1
        if t in _PY_OPTS_WITH_VALUE:
            j += 2
            continue
        if t.startswith("-"):
            j += 1
            continue
        kind = _module_from_path(t)
        return (kind, j + 1) if kind else None
    return None


def find_vllm_invocation(
    tokens: Sequence[Token], *, image_runs_vllm_serve: bool = False
) -> tuple[str, list[Token]] | None:
    """Find a vLLM server start in argv; return its kind and the tokens that are its args.

    Recognised: ``vllm serve ...``, ``python[3] -m vllm.entrypoints.openai.api_server``,
    ``python -m vllm.entrypoints.api_server``, the module name used as argv element, and a
    script path ending in one of those modules.  When the caller knows the image is a vLLM
    image whose ENTRYPOINT is ``vllm serve`` and the container has no ``command``, pass
    ``image_runs_vllm_serve=True``: the tokens (the container's args) are then serve args.
    """
    if image_runs_vllm_serve:
        return IMAGE_ENTRYPOINT, list(tokens)
    for i in range(len(tokens)):
        found = _match_at(tokens, i)
        if found is not None:
            kind, rest = found
            return kind, list(tokens[rest:])
    return None
