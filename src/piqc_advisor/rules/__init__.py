"""The rule registry: every rule, listed explicitly (no import-time self-registration)."""

from __future__ import annotations

from piqc_advisor.rules import (
    accelerators,
    access,
    engine_config,
    probes,
    release,
    sizing,
    workload,
)
from piqc_advisor.rules.api import Rule
from piqc_advisor.rules.runtime import RUNTIME_RULES
from piqc_advisor.rules.runtime_fleet import FLEET_RULES

ALL_RULES: tuple[Rule, ...] = (
    probes.readiness_probe_missing,
    probes.readiness_probe_not_model_aware,
    probes.startup_budget_too_short,
    probes.liveness_kills_loading_server,
    probes.probe_timeout_too_short,
    accelerators.gpu_request_missing,
    accelerators.gpu_request_limit_mismatch,
    accelerators.parallelism_gpu_mismatch,
    accelerators.gpu_count_not_multiple_of_tp,
    accelerators.gpu_placement_missing,
    accelerators.shm_missing_for_multi_gpu,
    engine_config.dtype_not_set,
    engine_config.max_model_len_not_set,
    engine_config.batching_limits_not_set,
    engine_config.gpu_memory_utilization_extreme,
    engine_config.engine_flag_unknown,
    engine_config.engine_flag_deprecated,
    engine_config.eager_mode_enabled,
    engine_config.prefix_caching_disabled,
    engine_config.quantization_checkpoint_mismatch,
    engine_config.served_model_name_missing,
    release.image_tag_mutable,
    release.image_not_pinned_by_digest,
    release.engine_version_unknown,
    release.model_revision_not_pinned,
    access.credential_literal_in_manifest,
    access.api_without_authentication,
    access.endpoints_exposed_outside_cluster,
    workload.cpu_memory_requests_missing,
    workload.weights_downloaded_at_start,
    workload.weights_on_ephemeral_storage_unbounded,
    workload.single_replica_without_pdb,
    workload.hpa_on_resource_metrics_only,
    workload.replica_bounds_invalid,
    workload.scale_down_stabilization_missing,
    workload.topology_spread_missing,
    workload.priority_class_missing,
    workload.metrics_not_scraped,
    workload.tracing_not_configured,
    workload.service_missing,
    workload.network_policy_missing,
    workload.runs_as_root,
    workload.privileged_or_host_namespaces,
    workload.security_context_missing,
    workload.service_account_token_mounted,
    workload.debug_log_level,
    workload.request_logging_enabled,
    sizing.weights_do_not_fit,
    sizing.kv_cache_too_small,
    sizing.tp_does_not_divide_heads,
    sizing.over_sharded,
    sizing.oversized_gpu_tier,
    sizing.dtype_unsupported_by_gpu,
)
RULES_BY_NAME: dict[str, Rule] = {r.name: r for r in ALL_RULES}

# Rules over other subjects than one workload, by name -> the item they prove: ModelSpec
# drift (a spec against the workloads it links to) and runtime diagnoses (metric facts).
SPEC_DRIFT_RULE = "modelspec-drift"
OTHER_RULE_ITEMS: dict[str, str] = {
    SPEC_DRIFT_RULE: "SRV-017",
    "runtime-config-drift": "SRV-017",
    **{r.name: r.item for r in RUNTIME_RULES},
    **{r.name: r.item for r in FLEET_RULES},
}
