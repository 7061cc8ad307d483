"""The regex fast path of the exposition parser agrees with prometheus_client's parser."""

from __future__ import annotations

import math
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st
from prometheus_client.parser import text_string_to_metric_families

from piqc_advisor.collectors import prometheus_text
from piqc_advisor.collectors.prometheus_text import MetricSample, parse_exposition


def reference(text: str) -> list[MetricSample]:
    samples = []
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            value = float(sample.value)
            if math.isnan(value) and family.type in ("counter", "histogram"):
                continue
            labels = tuple(sorted(sample.labels.items()))
            samples.append(MetricSample(sample.name, labels, value, family.name, family.type))
    return samples


def comparable(samples: list[MetricSample]) -> list[tuple[object, ...]]:
    """NaN never equals itself; compare it as text."""
    return [
        (s.name, s.labels, "nan" if math.isnan(s.value) else s.value, s.family, s.kind)
        for s in samples
    ]


def test_real_vllm_captures_take_the_fast_path_and_agree(reference_dir: Path) -> None:
    for name in ("metrics_before.txt", "metrics_after.txt"):
        text = (reference_dir / "vllm-cpu" / "captures" / name).read_text()
        fast = prometheus_text._fast_parse(text, 10**6)
        assert fast is not None
        assert comparable(fast[0]) == comparable(reference(text))


NAMES = st.sampled_from(["vllm:num_requests_running", "vllm:e2e_request_latency_seconds", "up"])
LABEL_VALUES = st.text(alphabet='ab09 _-."\\\n', max_size=8)


@st.composite
def exposition(draw: st.DrawFn) -> str:
    lines = []
    for index, name in enumerate(draw(st.lists(NAMES, min_size=1, max_size=4, unique=True))):
        kind = draw(st.sampled_from(["gauge", "counter", "untyped"]))
        family = f"{name}_{index}"
        written = f"{family}_total" if kind == "counter" else family
        lines.append(f"# HELP {written} something")
        lines.append(f"# TYPE {written} {kind}")
        for _ in range(draw(st.integers(1, 3))):
            labels = draw(
                st.dictionaries(
                    st.sampled_from(["engine", "model_name", "le"]), LABEL_VALUES, max_size=3
                )
            )
            rendered = ",".join(
                f'{k}="{v.replace(chr(92), chr(92) * 2).replace(chr(34), chr(92) + chr(34)).replace(chr(10), chr(92) + "n")}"'
                for k, v in labels.items()
            )
            value = draw(st.sampled_from(["0", "1.5", "-2", "1e3", "+Inf", "NaN"]))
            lines.append(f"{written}{{{rendered}}} {value}" if rendered else f"{written} {value}")
    return "\n".join(lines) + "\n"


@settings(max_examples=200)
@given(exposition())
def test_parse_exposition_equals_the_reference_parser(text: str) -> None:
    parsed = parse_exposition(text, "generated")
    assert parsed.problems == ()
    assert comparable(list(parsed.samples)) == comparable(reference(text))
