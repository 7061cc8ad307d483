"""The configuration file: .piqc-advisor.yaml or [tool.piqc-advisor] in pyproject.toml."""

from __future__ import annotations

import dataclasses
import json
import tomllib
from dataclasses import dataclass, field
from datetime import date
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema

from piqc_advisor.evaluation.waivers import Waiver
from piqc_advisor.facts.origin import Origin
from piqc_advisor.knowledge.model import Catalog
from piqc_advisor.knowledge.queries import closest
from piqc_advisor.rules.api import Rule
from piqc_advisor.safe_yaml import DataFileError, load_yaml_file

CONFIG_NAMES = (".piqc-advisor.yaml", ".piqc-advisor.yml")


class ConfigError(Exception):
    """The configuration is invalid; the message names the file and the key."""


@dataclass(frozen=True)
class Config:
    path: str | None = None
    select: tuple[str, ...] = ()
    ignore: tuple[str, ...] = ()
    severity: dict[str, str] = field(default_factory=dict)
    fail_on: str | None = None
    rule_params: dict[str, Any] = field(default_factory=dict)
    kb_paths: tuple[Path, ...] = ()
    allow_annotation_waivers: bool = True
    waivers: tuple[Waiver, ...] = ()


def _schema() -> dict[str, Any]:
    text = resources.files("piqc_advisor").joinpath("schemas/config.schema.json").read_text()
    data: dict[str, Any] = json.loads(text)
    return data


def find_config(start: Path) -> Path | None:
    """The first config file in `start`, else a pyproject.toml with [tool.piqc-advisor]."""
    for name in CONFIG_NAMES:
        if (start / name).is_file():
            return start / name
    pyproject = start / "pyproject.toml"
    if pyproject.is_file():
        try:
            data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError, OSError):
            return None
        if "piqc-advisor" in data.get("tool", {}):
            return pyproject
    return None


def load_config(path: Path) -> Config:
    """Read and validate a config file; unknown keys and wrong types name the key."""
    if path.name == "pyproject.toml":
        try:
            raw: Any = (
                tomllib.loads(path.read_text(encoding="utf-8"))
                .get("tool", {})
                .get("piqc-advisor", {})
            )
        except (tomllib.TOMLDecodeError, UnicodeDecodeError, OSError) as exc:
            raise ConfigError(f"{path}: cannot read: {exc}") from exc
    else:
        try:
            raw = load_yaml_file(path)
        except DataFileError as exc:
            raise ConfigError(str(exc)) from exc
    raw = raw or {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping of settings")
    errors = sorted(
        jsonschema.Draft202012Validator(_schema()).iter_errors(raw), key=lambda e: list(e.path)
    )
    if errors:
        messages = []
        for error in errors:
            where = "/".join(str(p) for p in error.absolute_path) or "(top)"
            text = error.message
            if error.validator == "additionalProperties":
                known = list(_schema()["properties"]) if not error.absolute_path else []
                extra = [
                    k for k in error.instance if k not in (error.schema.get("properties") or {})
                ]
                hint = closest(extra[0], known) if extra and known else None
                text += f" (did you mean {hint!r}?)" if hint else ""
            messages.append(f"{path}: {where}: {text}")
        raise ConfigError("\n".join(messages))
    base = path.parent
    profile = raw.get("profile")
    fail_on = raw.get("fail_on") or ("critical" if profile == "development" else None)
    waivers = []
    for index, entry in enumerate(raw.get("waivers", [])):
        expires = None
        if "expires" in entry:
            try:
                expires = date.fromisoformat(str(entry["expires"]))
            except ValueError as exc:
                raise ConfigError(
                    f"{path}: waivers/{index}/expires: not a YYYY-MM-DD date"
                ) from exc
        waivers.append(
            Waiver(
                item=entry["item"],
                reason=entry["reason"],
                source="config",
                origin=Origin(str(path), 1, 1, f"/waivers/{index}"),
                expires=expires,
                path=entry.get("path"),
                subject=entry.get("subject"),
            )
        )
    return Config(
        path=str(path),
        select=tuple(raw.get("select", ())),
        ignore=tuple(raw.get("ignore", ())),
        severity=dict(raw.get("severity", {})),
        fail_on=fail_on,
        rule_params=dict(raw.get("rules", {})),
        kb_paths=tuple(base / p for p in raw.get("kb_paths", ())),
        allow_annotation_waivers=bool(raw.get("allow_annotation_waivers", True)),
        waivers=tuple(waivers),
    )


def check_names(config: Config, catalog: Catalog, rules: tuple[Rule, ...]) -> None:
    """Every id, area and rule name the config mentions must exist."""
    from piqc_advisor.rules import OTHER_RULE_ITEMS

    rule_names = {r.name for r in rules} | set(OTHER_RULE_ITEMS)
    patterns_ok = rule_names | set(catalog.items) | set(catalog.areas)
    for key, values in (("select", config.select), ("ignore", config.ignore)):
        for value in values:
            if value not in patterns_ok and not any(i.startswith(value) for i in catalog.items):
                hint = closest(value, patterns_ok)
                raise ConfigError(
                    f"{config.path}: {key}: {value!r} names no rule, item or area"
                    + (f" (did you mean {hint!r}?)" if hint else "")
                )
    for item in [*config.severity, *(w.item for w in config.waivers)]:
        if item not in catalog.items:
            hint = closest(item, catalog.items)
            raise ConfigError(
                f"{config.path}: unknown item {item!r}"
                + (f" (did you mean {hint!r}?)" if hint else "")
            )
    by_name = {r.name: r for r in rules}
    for name, params in config.rule_params.items():
        if name not in by_name:
            hint = closest(name, by_name)
            raise ConfigError(
                f"{config.path}: rules: unknown rule {name!r}"
                + (f" (did you mean {hint!r}?)" if hint else "")
            )
        fields = {f.name for f in dataclasses.fields(by_name[name].params)}
        for key in params:
            if key not in fields:
                hint = closest(key, fields)
                raise ConfigError(
                    f"{config.path}: rules/{name}: unknown parameter {key!r}"
                    + (f" (did you mean {hint!r}?)" if hint else "")
                )


def rule_params(config: Config, rules: tuple[Rule, ...]) -> dict[str, Any]:
    """Parameter objects for the rules the config tunes."""
    by_name = {r.name: r for r in rules}
    return {
        name: dataclasses.replace(by_name[name].params, **values)
        for name, values in config.rule_params.items()
    }
