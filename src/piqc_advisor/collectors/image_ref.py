"""Container image references split into name, tag and digest, one way for every reader."""

from __future__ import annotations


def split_image(ref: str) -> tuple[str, str | None, str | None]:
    """`[registry[:port]/]path[:tag][@digest]` -> (name with registry, tag, digest text).

    The digest is whatever follows the first `@` (callers decide whether it is valid); the
    tag is what follows the last `:` of the last path segment, so a registry port is never
    taken for a tag.
    """
    name, at, digest = ref.partition("@")
    tag: str | None = None
    if ":" in name.rsplit("/", 1)[-1]:
        name, _, tag = name.rpartition(":")
    return name, tag or None, digest if at and digest else None
