"""The drift check as `check` runs it: find ModelSpecs among the inputs, link them, report drift."""

from __future__ import annotations

from collections.abc import Sequence

from piqc_advisor.collectors.inputs import DEFAULT_MAX_FILE_BYTES
from piqc_advisor.collectors.yaml_source import Problem
from piqc_advisor.facts.workload import Workload
from piqc_advisor.knowledge.model import Catalog
from piqc_advisor.modelspec.collect import read_specs
from piqc_advisor.modelspec.drift import DRIFT_ITEM, DRIFT_RULE, DriftResult, spec_drift

__all__ = ["DRIFT_ITEM", "DRIFT_RULE", "is_modelspec_problem", "modelspec_drift"]


def modelspec_drift(
    paths: Sequence[str],
    workloads: Sequence[Workload],
    catalog: Catalog,
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES,
) -> DriftResult:
    """Drift of every ModelSpec found among `paths` against the workloads it links to.

    Documents that are not ModelSpecs are skipped, as are unreadable ones (the scanner
    already reports those as problems).
    """
    specs = read_specs(list(paths), max_file_bytes, strict=False)
    return spec_drift(specs.specs, workloads, catalog)


def is_modelspec_problem(problem: Problem) -> bool:
    """The scanner's `not-understood` warning about a ModelSpec document, which check can drop."""
    return problem.code == "not-understood" and problem.message.startswith("piqc.ai/")
