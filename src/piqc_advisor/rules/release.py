"""Release rules: pinned images, known engine versions, pinned model revisions."""

from __future__ import annotations

import re
from collections.abc import Iterator

from piqc_advisor.facts.workload import Workload
from piqc_advisor.rules.accelerators import is_follower
from piqc_advisor.rules.api import NotApplicable, Outcome, Unknown, Violation, evidence_for, rule

_COMMIT = re.compile(r"^[0-9a-f]{7,40}$")


@rule("image-tag-mutable", "REL-007", "The image tag is latest or missing.")
def image_tag_mutable(w: Workload, _: object) -> Iterator[Outcome]:
    image = w.image
    if image is None:
        yield Unknown("no image reference")
        return
    if image.pinned:
        return
    if image.tag is None:
        yield Violation(f"image {image.ref!r} has no tag, so it means :latest", image.origin)
    elif image.tag == "latest":
        yield Violation(
            f"image {image.ref!r} uses :latest: each node may pull a different engine build",
            image.origin,
        )


@rule("image-not-pinned-by-digest", "REL-007", "The image is not pinned by digest.")
def image_not_pinned_by_digest(w: Workload, _: object) -> Iterator[Outcome]:
    image = w.image
    if image is None:
        yield Unknown("no image reference")
        return
    if not image.pinned and image.tag not in (None, "latest"):
        yield Violation(
            f"image {image.ref!r} is pinned by tag only; a re-pushed tag changes the engine "
            "silently (add @sha256:...)",
            image.origin,
        )


@rule("engine-version-unknown", "SRV-008", "The engine version cannot be told from the image.")
def engine_version_unknown(w: Workload, _: object) -> Iterator[Outcome]:
    if w.engine is None:
        yield NotApplicable("no model server detected")
        return
    if w.engine.version is None:
        where = w.image.origin if w.image is not None else evidence_for(w)
        ref = w.image.ref if w.image is not None else "the image"
        yield Violation(
            f"the {w.engine.name} version cannot be read from {ref!r}: version-specific "
            "defaults, flags and metric names cannot be checked",
            where,
        )


@rule("model-revision-not-pinned", "REL-006", "The model and tokenizer revisions are not pinned.")
def model_revision_not_pinned(w: Workload, _: object) -> Iterator[Outcome]:
    if w.engine is None or is_follower(w):
        yield NotApplicable("no model server detected")
        return
    model = w.serving.get("model")
    if model is None:
        yield Unknown("model reference not found")
        return
    name = str(model.value)
    if "$" in name or "{{" in name:
        yield Unknown(f"model reference {name!r} is resolved only at run time")
        return
    if name.startswith(("/", "pvc://", "s3://", "gs://", "oci://")) or name.count("/") != 1:
        yield NotApplicable("model is loaded from storage, not a hub repository")
        return
    if "@" in name or ":" in name.rsplit("/", 1)[-1]:
        return
    revision = w.serving.get("revision")
    if revision is None:
        yield Violation(
            f"model {name!r} is pulled without --revision: the hub's main branch can change "
            "the weights under a running deployment",
            model.origin,
        )
    elif not _COMMIT.match(str(revision.value)) and w.serving.get("tokenizer_revision") is None:
        yield Violation(
            f"--revision {revision.value!r} is a branch or tag, not a commit, and the tokenizer "
            "revision is not pinned",
            revision.origin,
            key="branch",
        )
