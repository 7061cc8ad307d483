"""What engine detection and serving-config extraction see of one container."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from piqc_advisor.collectors.command_line import Token
from piqc_advisor.facts.origin import Origin


@dataclass(frozen=True)
class EnvVar:
    """One environment variable: its literal value, or None when it comes from elsewhere."""

    name: str
    value: str | None
    origin: Origin
    value_from: str | None = None


@dataclass(frozen=True)
class ContainerView:
    """A container after Kubernetes semantics: image, effective argv with origins, env, ports.

    `tokens` is the effective argv (command + args, `$(VAR)` expanded, `sh -c` scripts
    flattened to the serving invocation where one is found). `command_given` is False when
    the manifest leaves the image ENTRYPOINT in place (then `tokens` holds only args).
    `token_origin` maps a token back to the file position of the element it came from.
    `config_files` maps file paths mounted from ConfigMaps in the inputs to their text.
    """

    name: str
    image: str | None
    origin: Origin
    tokens: tuple[Token, ...]
    command_given: bool
    env: Mapping[str, EnvVar]
    ports: tuple[tuple[str | None, int], ...]
    token_origin: Callable[[Token], Origin]
    image_origin: Origin | None = None
    config_files: Mapping[str, tuple[str, Origin]] = field(default_factory=dict)

    def env_value(self, name: str) -> str | None:
        var = self.env.get(name)
        return var.value if var is not None else None
