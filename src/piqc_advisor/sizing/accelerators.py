"""The accelerator catalog (dated data, JSON-Schema validated) and GPU name resolution."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

from piqc_advisor.safe_yaml import DataFileError, load_yaml_file

DATA = Path(__file__).resolve().parent / "data"
_PREFIXES = ("nvidia-", "tesla-", "amd-", "instinct-", "intel-", "habana-", "google-", "cloud-")


@dataclass(frozen=True)
class Accelerator:
    """One accelerator model: memory, speed, precisions and a reference price."""

    id: str
    memory_gb: float
    usable_gib: float
    precisions: frozenset[str]
    match: tuple[str, ...]
    vendor: str = ""
    architecture: str = ""
    nvidia_smi_mib: int | None = None
    bandwidth_gbs: float | None = None
    tflops: dict[str, float] = field(default_factory=dict)
    interconnect: str = ""
    price_low: float | None = None
    price_high: float | None = None
    price_source: str = ""
    note: str = ""

    def supports(self, precision: str) -> bool:
        return precision in self.precisions

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "vendor": self.vendor,
            "architecture": self.architecture,
            "memory_gb": self.memory_gb,
            "usable_gib": self.usable_gib,
            "bandwidth_gbs": self.bandwidth_gbs,
            "tflops": dict(self.tflops),
            "precisions": sorted(self.precisions),
            "interconnect": self.interconnect,
            "price_usd_per_gpu_hour": (
                {"low": self.price_low, "high": self.price_high, "source": self.price_source}
                if self.price_low is not None
                else None
            ),
        }


@dataclass(frozen=True)
class GpuCatalog:
    """Accelerators in match order, instance types, and the catalog date."""

    accelerators: tuple[Accelerator, ...]
    instances: dict[str, tuple[str, int]]
    date: str

    def get(self, gpu_id: str) -> Accelerator | None:
        for acc in self.accelerators:
            if acc.id.lower() == gpu_id.lower():
                return acc
        return None


@dataclass(frozen=True)
class GpuMatch:
    """A resolved name: the accelerator and, for an instance type, its GPU count."""

    accelerator: Accelerator
    count: int | None
    via: str


def normalize_gpu_name(name: str) -> str:
    """Lower case, '-' for spaces and underscores, vendor prefixes removed."""
    text = re.sub(r"[\s_]+", "-", name.strip().lower())
    changed = True
    while changed:
        changed = False
        for prefix in _PREFIXES:
            if text.startswith(prefix):
                text = text[len(prefix) :]
                changed = True
    return text


def resolve_gpu(name: str, catalog: GpuCatalog | None = None) -> GpuMatch | None:
    """The accelerator a node label, ModelSpec value or instance type names; None if unknown."""
    if catalog is None:
        return _resolve_builtin(name)
    return _resolve(name, catalog)


@lru_cache(maxsize=1024)
def _resolve_builtin(name: str) -> GpuMatch | None:
    return _resolve(name, builtin_gpu_catalog())


def _resolve(name: str, catalog: GpuCatalog) -> GpuMatch | None:
    raw = re.sub(r"[\s_]+", "-", name.strip().lower())
    if raw in catalog.instances:
        gpu_id, count = catalog.instances[raw]
        acc = catalog.get(gpu_id)
        return GpuMatch(acc, count, f"instance type {name}") if acc else None
    text = normalize_gpu_name(name)
    if not text or "mig-" in text or re.search(r"\d+g\.\d+gb", text):
        return None  # MIG slices have their own memory size; not modelled
    direct = catalog.get(text)
    if direct is not None:
        return GpuMatch(direct, None, "catalog id")
    for acc in catalog.accelerators:
        for pattern in acc.match:
            if re.search(pattern, text):
                return GpuMatch(acc, None, f"name {name!r}")
    return None


def _accelerator(entry: dict[str, Any]) -> Accelerator:
    price = entry.get("price_usd_per_gpu_hour") or {}
    return Accelerator(
        id=entry["id"],
        memory_gb=float(entry["memory_gb"]),
        usable_gib=float(entry["usable_gib"]),
        precisions=frozenset(entry["precisions"]),
        match=tuple(entry["match"]),
        vendor=entry.get("vendor", ""),
        architecture=entry.get("architecture", ""),
        nvidia_smi_mib=entry.get("nvidia_smi_mib"),
        bandwidth_gbs=entry.get("bandwidth_gbs"),
        tflops={k: float(v) for k, v in (entry.get("tflops") or {}).items()},
        interconnect=entry.get("interconnect", ""),
        price_low=price.get("low"),
        price_high=price.get("high"),
        price_source=entry.get("price_source", ""),
        note=entry.get("note", ""),
    )


def check_schema(data: Any, schema_file: str, path: Path) -> None:
    """Raise DataFileError at the first place `data` breaks the bundled JSON Schema."""
    import jsonschema  # only for user files: the bundled catalogs are checked by the tests

    schema = json.loads((DATA / schema_file).read_text(encoding="utf-8"))
    errors = sorted(jsonschema.Draft202012Validator(schema).iter_errors(data), key=str)
    if errors:
        first = errors[0]
        where = "/".join(str(p) for p in first.absolute_path) or "(top)"
        raise DataFileError(path, f"{where}: {first.message}")


def _validated(path: Path, bundled: bool = False) -> dict[str, Any]:
    data = load_yaml_file(path)
    if not bundled:
        check_schema(data, "accelerators.schema.json", path)
    for entry in data.get("accelerators") or []:
        for pattern in entry["match"]:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise DataFileError(path, f"{entry['id']}: bad match pattern: {exc}") from exc
    return dict(data)


def load_gpu_catalog(extra: Path | None = None) -> GpuCatalog:
    """The built-in catalog; a user file adds accelerators and instance types or replaces by id.

    A user entry with the id of a built-in one replaces it; new entries are tried before the
    built-in ones, so their match patterns win.
    """
    base = _validated(DATA / "accelerators.yaml", bundled=True)
    accelerators = [_accelerator(e) for e in base["accelerators"]]
    instances = {k.lower(): (v[0], int(v[1])) for k, v in base.get("instances", {}).items()}
    date = str(base.get("catalog_date", ""))
    if extra is not None:
        user = _validated(extra)
        added = {a.id.lower(): a for a in map(_accelerator, user.get("accelerators") or [])}
        base_ids = {a.id.lower() for a in accelerators}
        accelerators = [a for key, a in added.items() if key not in base_ids] + [
            added.get(a.id.lower(), a) for a in accelerators
        ]
        for key, value in (user.get("instances") or {}).items():
            instances[key.lower()] = (value[0], int(value[1]))
        if user.get("catalog_date"):
            date = f"{date} + {extra.name} {user['catalog_date']}"
    known = {a.id for a in accelerators}
    for key, (gpu, _) in instances.items():
        if gpu not in known:
            raise DataFileError(
                extra or DATA / "accelerators.yaml", f"instance {key}: unknown GPU {gpu}"
            )
    return GpuCatalog(tuple(accelerators), instances, date)


@cache
def builtin_gpu_catalog() -> GpuCatalog:
    return load_gpu_catalog()
