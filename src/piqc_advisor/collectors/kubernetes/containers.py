"""Container-level facts: the engine-facing view, probes, image, resources, env, security."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from piqc_advisor.collectors.command_line import Token, effective_argv
from piqc_advisor.collectors.container_view import ContainerView, EnvVar
from piqc_advisor.collectors.image_ref import split_image
from piqc_advisor.collectors.tree import Node, TypeIssue
from piqc_advisor.facts.origin import Declared, Origin
from piqc_advisor.facts.workload import Image, Probe, ResourceAmounts, SecretUse

# Env variables whose value is a credential: the value is never stored or printed.
CREDENTIAL_ENV = re.compile(
    r"(^|_)(TOKEN|API_KEY|APIKEY|SECRET|PASSWORD|PASSWD|CREDENTIALS?|ACCESS_KEY|PRIVATE_KEY)($|_)",
    re.IGNORECASE,
)
HF_TOKEN_ENV = ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HUGGINGFACE_HUB_TOKEN", "HUGGINGFACE_TOKEN")


@dataclass(frozen=True)
class ContainerSource:
    """Where a container's pieces are written; KServe may merge a runtime with a model spec."""

    main: Node
    command_nodes: tuple[Node, ...] | None
    arg_nodes: tuple[Node, ...] | None
    env_nodes: tuple[Node, ...]
    # Set when the container's name is written elsewhere (KServe's runtime container).
    name: str | None = None


def container_source(
    main: Node, extra_args: Sequence[Node] = (), extra_env: Sequence[Node] = ()
) -> ContainerSource:
    command = main.get("command")
    args = main.get("args")
    command_nodes = tuple(main.sequence("command")) if command is not None else None
    arg_nodes: tuple[Node, ...] | None = tuple(main.sequence("args")) if args is not None else None
    if extra_args:
        arg_nodes = (*(arg_nodes or ()), *extra_args)
    return ContainerSource(
        main=main,
        command_nodes=command_nodes,
        arg_nodes=arg_nodes,
        env_nodes=(*main.sequence("env"), *extra_env),
    )


def _scalar_text(node: Node) -> str:
    value = node.value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (str, int, float)):
        return str(value)
    node.context.issues.append(
        TypeIssue(node.origin, f"{node.pointer}: expected a string, found {type(value).__name__}")
    )
    return ""


def env_vars(nodes: Sequence[Node]) -> dict[str, EnvVar]:
    """Container env by name (later entries win, as in Kubernetes); values only when literal."""
    result: dict[str, EnvVar] = {}
    for node in nodes:
        name = node.text("name")
        if not name:
            continue
        value_from = node.mapping("valueFrom")
        if value_from is not None:
            description = "valueFrom"
            for ref_kind in ("secretKeyRef", "configMapKeyRef"):
                ref = value_from.mapping(ref_kind)
                if ref is not None:
                    description = f"{ref_kind}:{ref.text('name') or '?'}/{ref.text('key') or '?'}"
            if value_from.get("fieldRef") is not None:
                description = "fieldRef"
            result[name] = EnvVar(name, None, node.origin, description)
        else:
            result[name] = EnvVar(name, node.text("value") or "", node.origin)
    return result


def env_from_refs(main: Node) -> tuple[str, ...]:
    """Names of the Secrets and ConfigMaps imported whole with envFrom."""
    names: list[str] = []
    for entry in main.sequence("envFrom"):
        for ref_kind in ("secretRef", "configMapRef"):
            ref = entry.mapping(ref_kind)
            if ref is not None and ref.text("name"):
                names.append(f"{ref_kind}:{ref.text('name')}")
    return tuple(names)


def container_view(
    source: ContainerSource,
    config_files: Mapping[str, tuple[str, Origin]] | None = None,
    image_override: tuple[str, Origin] | None = None,
) -> ContainerView:
    """The engine-facing view of one container, with a token -> file position map."""
    main = source.main
    env = env_vars(source.env_nodes)
    literal_env: dict[str, str | None] = {name: var.value for name, var in env.items()}
    command = (
        [_scalar_text(n) for n in source.command_nodes]
        if source.command_nodes is not None
        else None
    )
    args = [_scalar_text(n) for n in source.arg_nodes] if source.arg_nodes is not None else None
    tokens = effective_argv(command, args, literal_env)
    command_nodes = source.command_nodes or ()
    arg_nodes = source.arg_nodes or ()

    cursors: dict[tuple[str, int], int] = {}

    def token_origin(token: Token) -> Origin:
        nodes = command_nodes if token.source == "command" else arg_nodes
        if not 0 <= token.index < len(nodes):
            return main.origin
        node = nodes[token.index]
        if token.from_shell and isinstance(node.value, str) and "\n" in node.value:
            return _line_in_block_script(node, token, cursors)
        return node.origin

    ports: list[tuple[str | None, int]] = []
    for port in main.sequence("ports"):
        number = port.integer("containerPort")
        if number is not None:
            ports.append((port.text("name"), number))
    image_node = main.get("image")
    image = main.text("image")
    image_origin = image_node.origin if image_node is not None else None
    if image_override is not None and not image:
        image, image_origin = image_override
    return ContainerView(
        name=source.name or main.text("name") or "<unnamed>",
        image=image,
        origin=main.origin,
        tokens=tuple(tokens),
        command_given=source.command_nodes is not None,
        env=env,
        ports=tuple(ports),
        token_origin=token_origin,
        image_origin=image_origin,
        config_files=dict(config_files or {}),
    )


def _line_in_block_script(node: Node, token: Token, cursors: dict[tuple[str, int], int]) -> Origin:
    """The line of a token inside a literal block script (`- |`): content starts a line below.

    Tokens are asked for in script order, so the search resumes after the previous hit and a
    word written twice maps to each of its lines in turn.
    """
    lines = str(node.value).split("\n")
    key = (token.source, token.index)
    start = cursors.get(key, 0)
    needle = token.text.split("=", 1)[0] if token.text.startswith("--") else token.text
    for offset in range(start, len(lines)):
        if needle and needle in lines[offset]:
            cursors[key] = offset
            return replace(node.origin, line=node.origin.line + 1 + offset, col=1)
    return node.origin


_DIGEST = re.compile(r"sha256:[0-9a-fA-F]{64}")


def parse_image(ref: str, origin: Origin) -> Image:
    """Split an image reference into repository, tag and digest (registry port aware).

    Only a well-formed sha256 digest counts: anything else after `@` does not pin the image.
    """
    rest, tag, digest = split_image(ref)
    if digest is not None and _DIGEST.fullmatch(digest) is None:
        digest = None
    return Image(ref=ref, repository=rest, tag=tag, digest=digest, origin=origin)


def probe(main: Node, kind: str) -> Probe | None:
    node = main.mapping(kind)
    if node is None:
        return None
    handler = "unknown"
    path = port = None
    for candidate in ("httpGet", "tcpSocket", "exec", "grpc"):
        found = node.mapping(candidate)
        if found is not None:
            handler = candidate
            path = found.text("path")
            port = found.text("port")
            if candidate == "exec":
                path = " ".join(_scalar_text(n) for n in found.sequence("command"))
            break

    def number(key: str, default: int) -> int:
        value = node.integer(key)
        return default if value is None else value

    return Probe(
        kind=handler,
        origin=node.origin,
        path=path,
        port=port,
        initial_delay_seconds=number("initialDelaySeconds", 0),
        period_seconds=number("periodSeconds", 10),
        timeout_seconds=number("timeoutSeconds", 1),
        failure_threshold=number("failureThreshold", 3),
        success_threshold=number("successThreshold", 1),
    )


def _declared_text(node: Node | None, key: str, via: str) -> Declared[str] | None:
    if node is None:
        return None
    child = node.get(key)
    value = node.text(key)
    if child is None or value is None:
        return None
    return Declared(value, child.origin, via)


def resource_amounts(main: Node) -> ResourceAmounts:
    resources = main.mapping("resources")
    requests = resources.mapping("requests") if resources else None
    limits = resources.mapping("limits") if resources else None
    return ResourceAmounts(
        cpu_request=_declared_text(requests, "cpu", "resources.requests.cpu"),
        cpu_limit=_declared_text(limits, "cpu", "resources.limits.cpu"),
        memory_request=_declared_text(requests, "memory", "resources.requests.memory"),
        memory_limit=_declared_text(limits, "memory", "resources.limits.memory"),
        ephemeral_storage_request=_declared_text(
            requests, "ephemeral-storage", "resources.requests.ephemeral-storage"
        ),
        ephemeral_storage_limit=_declared_text(
            limits, "ephemeral-storage", "resources.limits.ephemeral-storage"
        ),
    )


def secret_uses(view: ContainerView, env_from: Sequence[str]) -> tuple[SecretUse, ...]:
    """Credentials the container gets: from Secrets (name only) or as literals (never the value)."""
    uses: list[SecretUse] = []
    for name, var in view.env.items():
        if not (CREDENTIAL_ENV.search(name) or name in HF_TOKEN_ENV):
            continue
        if var.value_from and var.value_from.startswith("secretKeyRef:"):
            secret = var.value_from.split(":", 1)[1].split("/", 1)[0]
            uses.append(SecretUse(name, "secret", var.origin, secret))
        elif var.value_from:
            uses.append(
                SecretUse(
                    name, "configmap" if "configMap" in var.value_from else "reference", var.origin
                )
            )
        elif var.value and not var.value.startswith("$("):
            uses.append(SecretUse(name, "literal", var.origin))
    for ref in env_from:
        kind, _, secret = ref.partition(":")
        if kind == "secretRef":
            uses.append(SecretUse(f"envFrom:{secret}", "secret", view.origin, secret))
    return tuple(uses)


def hf_token(uses: Sequence[SecretUse]) -> SecretUse | None:
    for use in uses:
        if use.variable in HF_TOKEN_ENV:
            return use
    for use in uses:
        name = (use.secret_name or "").lower()
        if use.variable.startswith("envFrom:") and ("hf" in name or "hugging" in name):
            return use
    return None
