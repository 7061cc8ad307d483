"""One split of image references for engine detection and for the facts' image block."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from piqc_advisor.collectors.engines import parse_image as engine_image
from piqc_advisor.collectors.image_ref import split_image
from piqc_advisor.collectors.kubernetes.containers import parse_image as facts_image
from piqc_advisor.facts.origin import Origin

DIGEST = "sha256:" + "a" * 64


@pytest.mark.parametrize(
    ("ref", "expected"),
    [
        ("vllm/vllm-openai:v0.32.0", ("vllm/vllm-openai", "v0.32.0", None)),
        ("registry:5000/vllm", ("registry:5000/vllm", None, None)),
        (f"r.io:5000/a/b:1.0@{DIGEST}", ("r.io:5000/a/b", "1.0", DIGEST)),
        ("x@bogus", ("x", None, "bogus")),
        ("x:@", ("x", None, None)),
    ],
)
def test_split_image(ref: str, expected: tuple[str, str | None, str | None]) -> None:
    assert split_image(ref) == expected


def test_only_a_sha256_digest_pins_the_image_in_facts() -> None:
    origin = Origin("d.yaml", 3, 5)
    assert facts_image(f"r.io:5000/a/b:1.0@{DIGEST}", origin).digest == DIGEST
    assert facts_image("x@bogus", origin).digest is None
    assert engine_image("x@bogus").digest == "bogus"


segment = st.from_regex(r"[a-z0-9]{1,8}", fullmatch=True)


@given(
    registry=st.one_of(st.none(), st.from_regex(r"[a-z]{1,6}\.io(:[0-9]{2,5})?", fullmatch=True)),
    path=st.lists(segment, min_size=1, max_size=3),
    tag=st.one_of(st.none(), st.from_regex(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,10}", fullmatch=True)),
    pinned=st.booleans(),
)
def test_both_readers_agree_with_the_parts(
    registry: str | None, path: list[str], tag: str | None, pinned: bool
) -> None:
    name = "/".join(([registry] if registry else []) + path)
    ref = name + (f":{tag}" if tag else "") + (f"@{DIGEST}" if pinned else "")
    digest = DIGEST if pinned else None
    image = facts_image(ref, Origin("d.yaml", 1, 1))
    assert (image.repository, image.tag, image.digest) == (name, tag, digest)
    parsed = engine_image(ref)
    assert (parsed.registry, parsed.repository, parsed.tag, parsed.digest) == (
        registry,
        "/".join(path),
        tag,
        digest,
    )
