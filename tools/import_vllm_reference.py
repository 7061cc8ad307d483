"""Turn the vLLM 0.32 reference tables into the scanner's packaged flag and env-var data.

Reads ``vllm-0.32-serve-args.tsv`` and ``vllm-0.32-envs.tsv`` (extracted from a real vLLM
0.32 install) and writes two compact JSON files under
``src/piqc_advisor/collectors/data/``.  Only the facts the parser needs are kept: no help
text or summaries.  Re-running the tool over the same tables gives byte-identical output.

Usage: python tools/import_vllm_reference.py [--reference-dir DIR] [--out-dir DIR]
"""

from __future__ import annotations

import argparse
import ast
import csv
import json
import re
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_REFERENCE = Path("/work/shared/reference")
DEFAULT_OUT = ROOT / "src" / "piqc_advisor" / "collectors" / "data"
VERSION = "0.32"

# The base value types the scanner knows how to convert (see collectors/vllm_args.py).
BASES = {
    "str",
    "int",
    "float",
    "json",
    "human_readable_int",
    "human_readable_int_or_auto",
    "union_dict_and_str",
    "custom",
}


def _read_tsv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh, delimiter="\t", quoting=csv.QUOTE_NONE))


def _describe_type(raw: str) -> dict[str, Any]:
    """Split the extractor's type notation into action, base type, optional and nargs."""
    text = raw.strip()
    if text == "bool (--x/--no-x)":
        return {"action": "boolean_optional", "base": "bool", "optional": False, "nargs": None}
    if text == "flag":
        return {"action": "store_true", "base": "bool", "optional": False, "nargs": None}
    nargs = None
    m = re.search(r"\s+nargs=(\S+)$", text)
    if m:
        nargs = m.group(1)
        text = text[: m.start()]
    action = "store"
    m = re.search(r"\s+\[(\w+)\]$", text)
    if m:
        action = {
            "AppendAction": "append",
            "LoRAParserAction": "lora_modules",
            "DeprecatedLogConfigFileAction": "store",
        }.get(m.group(1), "store")
        text = text[: m.start()]
    optional = False
    m = re.fullmatch(r"optional\[(.*)\]", text)
    if m:
        optional = True
        text = m.group(1)
    if text.startswith("json"):
        # "json (config dataclass)" is JSON validated into a config class by vLLM.
        text = "json"
    if text not in BASES:
        raise SystemExit(f"unknown type notation: {raw!r}")
    return {"action": action, "base": text, "optional": optional, "nargs": nargs}


def _typed_default(raw: str, base: str) -> Any:
    """Give the default a JSON type where the table's text says so plainly."""
    text = raw.strip()
    if text in ("None", ""):
        return None if text == "None" else ""
    if text == "(suppressed)":
        return None
    if text in ("True", "False"):
        return text == "True"
    if base in ("int", "human_readable_int", "human_readable_int_or_auto"):
        try:
            return int(text)
        except ValueError:
            return text
    if base == "float":
        try:
            return float(text)
        except ValueError:
            return text
    if text[:1] in "[{":
        try:
            return json.loads(text)
        except ValueError:
            return text
    if text == "set()":
        return []
    return text


def build_args(rows: list[dict[str, str]]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for row in rows:
        flag = row["flag"].strip()
        shape = _describe_type(row["type"])
        positional = not flag.startswith("-")
        aliases = [a.strip() for a in row["aliases"].split(",") if a.strip()]
        summary = row.get("summary") or ""
        choices = [c for c in row["choices"].split(",") if c] if row["choices"].strip() else None
        out.append(
            {
                "flag": flag,
                "aliases": aliases,
                "dest": flag if positional else flag.lstrip("-").replace("-", "_"),
                "positional": positional,
                "type": row["type"].strip(),
                "action": shape["action"],
                "base": shape["base"],
                "optional": shape["optional"],
                "nargs": shape["nargs"],
                "default": _typed_default(row["default"], shape["base"]),
                "default_suppressed": row["default"].strip() == "(suppressed)",
                "choices": choices,
                "group": row["group"].strip(),
                "deprecated": summary.startswith("[deprecated]"),
            }
        )
    out.sort(key=lambda a: (a["group"], a["flag"]))
    return out


def _env_default(raw: str) -> Any:
    text = raw.strip()
    if not text:
        return None
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def _env_choices(type_text: str) -> list[str] | None:
    m = re.search(r"Literal\[(.*?)\]", type_text)
    if not m:
        return None
    return [str(v) for v in ast.literal_eval("[" + m.group(1) + "]")]


def build_envs(rows: list[dict[str, str]]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for row in rows:
        default = _env_default(row["default"])
        if isinstance(default, set):
            default = sorted(default)
        out.append(
            {
                "name": row["name"].strip(),
                "type": row["type"].strip(),
                "choices": _env_choices(row["type"]),
                "default": default,
            }
        )
    out.sort(key=lambda e: e["name"])
    return out


def _dump(path: Path, payload: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reference-dir", type=Path, default=DEFAULT_REFERENCE)
    parser.add_argument("--out-dir", type=Path, default=DEFAULT_OUT)
    opts = parser.parse_args(argv)
    args_tsv = opts.reference_dir / f"vllm-{VERSION}-serve-args.tsv"
    envs_tsv = opts.reference_dir / f"vllm-{VERSION}-envs.tsv"
    for path in (args_tsv, envs_tsv):
        if not path.is_file():
            print(f"missing reference table: {path}", file=sys.stderr)
            return 2
    args = build_args(_read_tsv(args_tsv))
    envs = build_envs(_read_tsv(envs_tsv))
    source = "generated by tools/import_vllm_reference.py from the vLLM 0.32 reference tables"
    _dump(
        opts.out_dir / "vllm_0_32_args.json",
        {"vllm_version": VERSION, "generated": source, "args": args},
    )
    _dump(
        opts.out_dir / "vllm_0_32_envs.json",
        {"vllm_version": VERSION, "generated": source, "envs": envs},
    )
    print(f"wrote {len(args)} serve args and {len(envs)} env vars to {opts.out_dir}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
