"""OpenTelemetry for the code of nodes (the optional ``telemetry`` extra; docs/telemetry.md).

The host sends each step the W3C trace context of its span for the node attempt (``Step.traceparent``). While the
step runs, that context is current, so spans a node creates with the OpenTelemetry API nest under the host's span
with no extra code. When the standard ``OTEL_*`` environment names an OTLP endpoint, the runtime installs a tracer
provider exporting those spans over OTLP/HTTP in batches. The runtime makes no span of its own per step: the host's
span of the attempt shows the step, and a span per step (made, encoded and exported here) cost more than the step.
Without a traceparent, or without the ``opentelemetry`` packages, a step runs exactly as before: nothing is imported.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from .gen.conductor.runtime.v1 import runtime_pb2 as pb

# Because most runtimes never trace, the OpenTelemetry packages are imported on the first step that carries a
# traceparent; None means "not looked yet", False "not available".
_tracing: _Tracing | bool | None = None


_ENDPOINTS = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")


def export_configured(env: Mapping[str, str] = os.environ) -> bool:
    """Whether the OTEL_* environment asks for OTLP export of traces (the rule the host and every runtime share)."""
    named = any(env.get(name, "").strip() for name in _ENDPOINTS)
    return named and env.get("OTEL_SDK_DISABLED", "").lower() != "true" and env.get("OTEL_TRACES_EXPORTER") != "none"


class _Tracing:
    def __init__(self) -> None:
        from opentelemetry import context, trace
        from opentelemetry.trace import INVALID_SPAN_CONTEXT, NonRecordingSpan, SpanContext, TraceFlags
        from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

        self.context = context
        self.trace = trace
        self.propagator = TraceContextTextMapPropagator()
        self.span_context = SpanContext
        self.invalid = INVALID_SPAN_CONTEXT
        self.non_recording = NonRecordingSpan
        self.flags = TraceFlags
        self.provider: Any = None
        if export_configured():
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
            from opentelemetry.sdk.resources import Resource
            from opentelemetry.sdk.trace import TracerProvider
            from opentelemetry.sdk.trace.export import BatchSpanProcessor

            attributes = {} if os.environ.get("OTEL_SERVICE_NAME") else {"service.name": "conductor-runtime-python"}
            self.provider = TracerProvider(resource=Resource.create(attributes))
            self.provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
            trace.set_tracer_provider(self.provider)
        tracing = self

        class StepParent(NonRecordingSpan):
            """The host's span of the step's node attempt, the parent of the spans the node's code makes. Its
            traceparent is read when code first asks for its span context, because most steps make no span and the
            reading cost most of a step's tracing."""

            def __init__(self, traceparent: str, tracestate: str) -> None:  # pyright: ignore[reportMissingSuperCall]
                # NonRecordingSpan's own __init__ would take a span context made now: this one is made when asked.
                self._traceparent = traceparent
                self._tracestate = tracestate
                self._read: Any = None

            @property
            def _context(self) -> Any:  # pyright: ignore[reportIncompatibleVariableOverride]
                if self._read is None:
                    self._read = tracing.span_context_of(self._traceparent, self._tracestate)
                return self._read

            def get_span_context(self) -> Any:
                return self._context

        self.step_parent = StepParent

    def span_context_of(self, traceparent: str, tracestate: str) -> Any:
        """The remote span context a step's traceparent names. The host writes a version-00 traceparent (55
        characters) and usually no tracestate: that is read directly, because the propagator's regular expressions
        and carrier cost more than the rest of a step's tracing; anything else goes through the propagator."""
        # W3C ids are lowercase hex: anything else (or all digits, which islower() does not vouch for) goes the
        # propagator's way, which rejects or reads it as the standard says.
        if not tracestate and len(traceparent) == 55 and traceparent.startswith("00-") and traceparent.islower():
            try:
                trace_id = int(traceparent[3:35], 16)
                span_id = int(traceparent[36:52], 16)
                flags = int(traceparent[53:55], 16)
            except ValueError:
                trace_id = span_id = flags = 0
            if trace_id and span_id and traceparent[35] == "-" and traceparent[52] == "-":
                return self.span_context(trace_id, span_id, is_remote=True, trace_flags=self.flags(flags))
        carrier = {"traceparent": traceparent}
        if tracestate:
            carrier["tracestate"] = tracestate
        return self.trace.get_current_span(self.propagator.extract(carrier)).get_span_context()

    def parent_of(self, step: pb.Step) -> Any:
        """The context holding the step's remote parent, read now."""
        remote = self.span_context_of(step.traceparent, step.tracestate)
        return self.trace.set_span_in_context(self.non_recording(remote))

    def enter(self, step: pb.Step) -> Any:
        # The parent's traceparent is read only if the node's code makes a span (or asks for the current one).
        return self.context.attach(self.trace.set_span_in_context(self.step_parent(step.traceparent, step.tracestate)))

    def leave(self, token: Any) -> None:
        self.context.detach(token)


def enter_step(step: pb.Step) -> Any:
    """Makes the step's trace context current (in this thread or task); returns what ``leave_step`` needs, or None
    when the step is not traced."""
    global _tracing  # noqa: PLW0603 because the packages are loaded once, on first use
    if not step.traceparent:
        return None
    if _tracing is None:
        try:
            _tracing = _Tracing()
        except ImportError:
            _tracing = False
    if _tracing is False or _tracing is True:
        return None
    return _tracing.enter(step)


def leave_step(entered: Any) -> None:
    """Restores the context ``enter_step`` replaced."""
    if entered is not None and isinstance(_tracing, _Tracing):
        _tracing.leave(entered)


def flush() -> None:
    """Exports the spans that ended and are not exported yet; called before the process exits."""
    if isinstance(_tracing, _Tracing) and _tracing.provider is not None:
        _tracing.provider.force_flush(5_000)
