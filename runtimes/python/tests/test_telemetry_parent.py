"""The step's remote parent read directly from its traceparent (at once, or when a step's code first asks for it)
matches what the W3C propagator reads."""

from __future__ import annotations

import pytest

pytest.importorskip("opentelemetry.sdk")

from opentelemetry import trace
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from conductor_runtime import _telemetry
from conductor_runtime.gen.conductor.runtime.v1 import runtime_pb2 as pb


@pytest.mark.parametrize(
    ("traceparent", "tracestate"),
    [
        ("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", ""),
        ("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00", ""),
        ("00-4BF92F3577B34DA6A3CE929D0E0E4736-00F067AA0BA902B7-01", ""),
        ("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "vendor=value"),
        ("00-00000000000000000000000000000000-00f067aa0ba902b7-01", ""),
        ("00-4bf92f3577b34da6a3ce929d0e0e4736x00f067aa0ba902b7-01", ""),
        ("00-not-a-traceparent", ""),
    ],
)
def test_parent_of_a_step_is_the_propagators(traceparent: str, tracestate: str) -> None:
    # Because the parent is read inside the private tracing object, the test reaches for it.
    tracing = _telemetry._Tracing()  # noqa: SLF001  # pyright: ignore[reportPrivateUsage]
    step = pb.Step(traceparent=traceparent, tracestate=tracestate)
    carrier = {"traceparent": traceparent}
    if tracestate:
        carrier["tracestate"] = tracestate
    expected = trace.get_current_span(TraceContextTextMapPropagator().extract(carrier)).get_span_context()
    # Read now (parent_of), and as a step's code finds it while the step runs (read when first asked for).
    token = tracing.enter(step)
    try:
        current = trace.get_current_span().get_span_context()
    finally:
        tracing.leave(token)
    assert trace.get_current_span().get_span_context() == trace.INVALID_SPAN_CONTEXT
    for found in (trace.get_current_span(tracing.parent_of(step)).get_span_context(), current):
        assert (found.trace_id, found.span_id, found.trace_flags, found.is_remote, found.is_valid) == (
            expected.trace_id,
            expected.span_id,
            expected.trace_flags,
            expected.is_remote,
            expected.is_valid,
        )
        assert dict(found.trace_state) == dict(expected.trace_state)
