"""The ``@node`` decorator: a type-hinted function becomes a node type, its signature becomes ports and config."""

from __future__ import annotations

import dataclasses
import inspect
import re
import sys
import typing
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar, cast

from pydantic import BaseModel, PydanticSchemaGenerationError, TypeAdapter, ValidationError

from . import _tables
from ._context import Context
from ._describe import describe, problems
from ._failure import StepError
from ._ports import LazyTable, PortCodec, PortValueError, port_codec
from ._stream import as_iterator, stream_item
from ._stream_input import InputStream
from .gen.conductor.runtime.v1 import runtime_pb2 as pb

if typing.TYPE_CHECKING:
    from ._step import StepRun
    from ._values import ValueCodec

Executor = Literal["async", "thread", "process", "inline"]
"""Where a node's code runs: ``async`` on the event loop (for ``async def``), ``thread`` in the thread pool
(default for ``def``), ``process`` in a process pool (CPU-bound work; the function must be importable from its
module, its inputs and outputs picklable; its Context works in the worker), ``inline`` on the event loop without a
thread hop (only for sync code that returns in microseconds)."""

F = TypeVar("F", bound=Callable[..., Any])

RESULT_PORT = "result"
_NO_OUTPUT = (None, type(None), typing.NoReturn, typing.Never)


@dataclass(slots=True)
class InputPort:
    name: str
    codec: PortCodec
    required: bool
    description: str = ""
    default: Any = inspect.Parameter.empty
    """The parameter's default, shown in the port's schema when it is JSON data."""


@dataclass(slots=True)
class OutputPort:
    name: str
    codec: PortCodec
    description: str = ""
    required: bool = True
    """Whether the node always produces it when it completes (only ``NotRequired`` TypedDict keys are not)."""


@dataclass(slots=True)
class NodeDefinition:
    """Everything the runtime knows about one node type; built by ``@node``."""

    type: str
    version: str
    title: str
    description: str
    function: Callable[..., Any]
    executor: Executor
    inputs: list[InputPort]
    outputs: list[OutputPort]
    output_mode: Literal["single", "fields", "none"]
    config_adapter: TypeAdapter[Any] | None
    config_has_default: bool
    #: What checks a config before it runs and describes it (discovery): the config model made strict (see
    #: strict_config), or ``config_adapter`` itself. Parsing for a run uses ``config_adapter``, so the node gets
    #: an instance of its own class (which a process-pool executor can pickle).
    config_check_adapter: TypeAdapter[Any] | None
    context_parameter: str | None
    generator: bool = False
    """The function is a generator function: calling it gives the stream of its single output."""
    idempotent: bool = False
    deterministic: bool = False
    cancellable: bool = False
    streaming: bool = False
    default_timeout_ms: int = 0
    input_index: dict[str, InputPort] = field(default_factory=dict[str, InputPort])
    output_names: frozenset[str] = frozenset()
    stream_outputs: tuple[OutputPort, ...] = ()
    has_streams: bool = False
    """Whether any port is a stream: such a step waits for credits and items, so it never runs inline."""

    def __post_init__(self) -> None:
        self.input_index = {port.name: port for port in self.inputs}
        self.output_names = frozenset(port.name for port in self.outputs)
        self.stream_outputs = tuple(port for port in self.outputs if port.codec.stream)
        self.has_streams = bool(self.stream_outputs) or any(port.codec.stream for port in self.inputs)

    # ------------------------------------------------------------------ running

    def prepare(self, run: StepRun, earlier_outputs: list[dict[str, Any]], codec: ValueCodec) -> dict[str, Any]:
        """Builds the node function's keyword arguments from the step: decoded and validated inputs, the config
        and the context. Raises StepError (``input.invalid``, ``config.invalid``, ``blob.corrupt``)."""
        step = run.step
        arguments: dict[str, Any] = {}
        index = self.input_index
        for name, given in step.inputs.items():
            port = index.get(name)
            if port is None:
                known = ", ".join(index) or "none"
                raise StepError(f'{self.label(step)} has no input "{name}"; its inputs are: {known}', "input.invalid")
            source = given.WhichOneof("source")
            if (source == "stream") != bool(port.codec.stream):
                raise StepError(_stream_mismatch(self.label(step), name, given), "input.invalid")
            try:
                if source == "stream":
                    stream = InputStream(run, name, port.codec, codec, self.label(step), given.stream)
                    run.stream_inputs[name] = stream
                    arguments[name] = stream
                elif source == "value":
                    arguments[name] = port.codec.from_wire(given.value, codec)
                elif source == "step_output":
                    reference = given.step_output
                    outputs = earlier_outputs[reference.step]
                    if reference.port not in outputs:
                        raise StepError(
                            f'{self.label(step)}: input "{name}" takes output "{reference.port}" of step '
                            f"{reference.step}, which did not produce it",
                            "input.invalid",
                        )
                    arguments[name] = port.codec.from_live(outputs[reference.port])
            except PortValueError as error:
                where = f'input "{name}"' + (f" at {error.path}" if error.path else "")
                raise StepError(
                    f"{self.label(step)}: {where} expected {error.expected}, found {error.found}",
                    "input.invalid",
                ) from None
        for port in self.inputs:
            if port.required and port.name not in arguments:
                raise StepError(
                    f'{self.label(step)}: input "{port.name}" is required but was not given', "input.invalid"
                )
        if self.config_adapter is not None:
            config = self._config(step, codec)
            if config is not _DEFAULT:
                arguments["config"] = config
        if self.context_parameter is not None and self.executor != "process":
            arguments[self.context_parameter] = Context(run)  # a process-pool worker builds its own
        for stream in run.stream_inputs.values():
            stream.open()  # grants the first credits only once the step is sure to run
        return arguments

    def _config(self, step: pb.Step, codec: ValueCodec) -> Any:
        adapter = self.config_adapter
        assert adapter is not None
        encoding, data = codec.payload(step.config) if step.HasField("config") else ("empty", b"")
        if encoding == "empty" or (encoding == "json" and not data):
            if self.config_has_default:
                return _DEFAULT
            data = b"{}"
        elif encoding != "json":
            raise StepError(f"{self.label(step)}: config expected JSON, found a {encoding} value", "config.invalid")
        try:
            return adapter.validate_json(data, strict=True)
        except ValidationError as error:
            problem = problems(error)[0]
            where = f'config field "{problem.path}"' if problem.path else "config"
            raise StepError(
                f"{self.label(step)}: {where} expected {problem.expected}, found {problem.found}",
                "config.invalid",
            ) from None

    def split(self, result: Any, step: pb.Step) -> dict[str, Any]:
        """The node's return value as a map of output port → live value."""
        mode = self.output_mode
        if mode == "single":
            return self._streams({self.outputs[0].name: result}, step)
        if mode == "none":
            return {}
        outputs: dict[str, Any] = {}
        returned: object = result
        if isinstance(result, Mapping):
            mapping = typing.cast("Mapping[str, Any]", result)
            for port in self.outputs:
                if port.name in mapping:
                    outputs[port.name] = mapping[port.name]
        else:
            for port in self.outputs:
                if hasattr(result, port.name):
                    outputs[port.name] = getattr(result, port.name)
        if not outputs and self.outputs:
            raise StepError(
                f"{self.label(step)} returned {type(returned).__qualname__}, which has none of its outputs "
                f"({', '.join(port.name for port in self.outputs)})",
                "output.invalid",
            )
        for port in self.outputs:
            # The host may have chained a consumer of a required output into this invocation.
            if port.required and port.name not in outputs:
                raise StepError(
                    f'{self.label(step)} did not produce its output "{port.name}", which it declares as always '
                    "produced",
                    "output.invalid",
                )
        return self._streams(outputs, step)

    def _streams(self, outputs: dict[str, Any], step: pb.Step) -> dict[str, Any]:
        """Makes what the node gave for each stream output the iterator the runtime pulls; output.invalid when it
        is no stream."""
        for port in self.stream_outputs:
            if port.name in outputs:
                given = outputs[port.name]
                iterator = as_iterator(given)
                if iterator is None:
                    raise StepError(
                        f'{self.label(step)}: output "{port.name}" is a stream: expected a generator, an iterator or '
                        f"an iterable of items, found {describe(given)}",
                        "output.invalid",
                    )
                outputs[port.name] = iterator
        return outputs

    def encode(self, outputs: dict[str, Any], into: pb.Completed, codec: ValueCodec, step: pb.Step) -> None:
        """Encodes live outputs into a Completed event's output map."""
        wire = into.outputs
        for port in self.outputs:
            if port.name in outputs and not port.codec.stream:  # a stream leaves as chunks, not in the outputs
                try:
                    port.codec.to_wire(outputs[port.name], wire[port.name], codec)
                except PortValueError as error:
                    raise StepError(
                        f'{self.label(step)}: output "{port.name}" expected {error.expected}, found {error.found}',
                        "output.invalid",
                    ) from None

    def label(self, step: pb.Step) -> str:
        return f'node "{step.node_id}" ({self.type})'


_DEFAULT: Any = object()

_REGISTRY: dict[str, NodeDefinition] = {}


def registered() -> dict[str, NodeDefinition]:
    """Every node type declared so far in this process, by type name."""
    return dict(_REGISTRY)


def node(
    type: str,  # noqa: A002 because it is the ABI's word for a node type's name
    *,
    version: str = "1",
    title: str = "",
    description: str | None = None,
    idempotent: bool = False,
    deterministic: bool = False,
    cancellable: bool = False,
    streaming: bool = False,
    executor: Executor | None = None,
    timeout_ms: int = 0,
    output: str | None = None,
) -> Callable[[F], F]:
    """Declares a function as a node type and returns it unchanged (it stays callable in tests).

    The function's signature is the node's interface:

    - each parameter is an input port named like it, required unless it has a default, typed by its annotation
      (JSON data validated by pydantic, ``bytes``, or a table type: ``pa.Table``, ``pd.DataFrame``,
      ``pl.DataFrame``, ``np.ndarray``);
    - a parameter named ``config`` is the node's config (a pydantic model, TypedDict or dataclass);
    - a parameter annotated ``Context`` receives the step's context;
    - outputs: with ``output="name"`` the return value is that single port; otherwise a return annotation that is
      a pydantic model, TypedDict or dataclass gives one port per field, ``None`` gives no output, and anything
      else a single port named ``result``.

    Args:
        type: the globally unique type name, ``<namespace>.<name>``, e.g. ``"py.aggregate"``.
        version: the implementation version; part of result cache keys, so bump it when results change.
        title: a short human name; defaults to the type.
        description: defaults to the function's docstring.
        idempotent: running twice has the same effect as once (lets the host retry after a crash).
        deterministic: the same config and inputs always give the same outputs (lets the host cache results).
        cancellable: the node reacts to ``ctx.cancelled`` before it finishes.
        streaming: the node emits chunks with ``ctx.emit``.
        executor: where the code runs (see ``Executor``); ``async def`` always runs on the event loop.
        timeout_ms: the default time budget of one attempt, 0 for none.
        output: name of the single output port that receives the whole return value.
    """

    def decorate(function: F) -> F:
        definition = define(
            function,
            node_type=type,
            version=version,
            title=title,
            description=description,
            idempotent=idempotent,
            deterministic=deterministic,
            cancellable=cancellable,
            streaming=streaming,
            executor=executor,
            timeout_ms=timeout_ms,
            output=output,
        )
        existing = _REGISTRY.get(type)
        if existing is not None and _qualified(existing.function) != _qualified(function):
            raise ValueError(
                f'node type "{type}" is declared twice: by {_qualified(existing.function)} and by '
                f"{_qualified(function)}"
            )
        _REGISTRY[type] = definition
        function.__conductor_node__ = definition  # type: ignore[attr-defined]
        return function

    return decorate


def define(
    function: Callable[..., Any],
    *,
    node_type: str,
    version: str = "1",
    title: str = "",
    description: str | None = None,
    idempotent: bool = False,
    deterministic: bool = False,
    cancellable: bool = False,
    streaming: bool = False,
    executor: Executor | None = None,
    timeout_ms: int = 0,
    output: str | None = None,
) -> NodeDefinition:
    """Builds a NodeDefinition from a function without registering it (what ``@node`` does before it registers)."""
    where = f'node "{node_type}" ({_qualified(function)})'
    generator = inspect.isasyncgenfunction(function) or inspect.isgeneratorfunction(function)
    is_async = inspect.iscoroutinefunction(function) or inspect.isasyncgenfunction(function)
    if is_async:
        if executor not in (None, "async"):
            raise TypeError(f"{where}: an async def node runs on the event loop; executor={executor!r} is not possible")
        chosen: Executor = "async"
    else:
        if executor == "async":
            raise TypeError(f"{where}: executor='async' needs an async def function")
        chosen = executor or "thread"
    hints = _resolve_hints(function, where)
    signature = inspect.signature(function)
    inputs: list[InputPort] = []
    config_adapter: TypeAdapter[Any] | None = None
    config_check_adapter: TypeAdapter[Any] | None = None
    config_has_default = False
    context_parameter: str | None = None
    for parameter in signature.parameters.values():
        name = parameter.name
        if parameter.kind in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD):
            raise TypeError(f"{where}: *{name} and **{name} cannot be ports; name each input")
        if parameter.kind is inspect.Parameter.POSITIONAL_ONLY:
            raise TypeError(f'{where}: parameter "{name}" is positional-only; inputs are passed by name')
        annotation = hints.get(name, Any)
        if isinstance(annotation, type) and issubclass(annotation, Context):
            context_parameter = name
            continue
        if name == "config":
            config_adapter = _config_adapter(annotation, where)
            strict = strict_config(annotation)
            config_check_adapter = config_adapter if strict is annotation else _config_adapter(strict, where)
            config_has_default = parameter.default is not inspect.Parameter.empty
            continue
        try:
            codec = port_codec(annotation)
        except TypeError as error:
            raise TypeError(f'{where}: input "{name}": {error}') from None
        required = parameter.default is inspect.Parameter.empty
        inputs.append(InputPort(name, codec, required=required, default=parameter.default))
    returned = hints.get("return", inspect.Parameter.empty)
    if generator:
        returned = _generator_output(returned, is_async=is_async, where=where)
    outputs, mode = _outputs(returned, output, where)
    _check_streams(inputs, outputs, chosen, where)
    doc = inspect.getdoc(function) or ""
    return NodeDefinition(
        type=node_type,
        version=version,
        title=title or node_type,
        description=doc if description is None else description,
        function=function,
        executor=chosen,
        inputs=inputs,
        outputs=outputs,
        output_mode=mode,
        config_adapter=config_adapter,
        config_has_default=config_has_default,
        config_check_adapter=config_check_adapter,
        context_parameter=context_parameter,
        generator=generator,
        idempotent=idempotent,
        deterministic=deterministic,
        cancellable=cancellable,
        streaming=streaming,
        default_timeout_ms=timeout_ms,
    )


def _generator_output(annotation: Any, *, is_async: bool, where: str) -> Any:
    """The return annotation of a generator function node: the stream of its single output (items of any type
    when it has none)."""
    if annotation is inspect.Parameter.empty:
        return AsyncIterator[Any] if is_async else Iterator[Any]
    if not stream_item(annotation)[1]:
        wanted = "AsyncStream[...]" if is_async else "Stream[...]"
        raise TypeError(
            f"{where}: a generator function's return annotation must be a stream, e.g. {wanted}; found {annotation!r}"
        )
    return annotation


def _check_streams(inputs: list[InputPort], outputs: list[OutputPort], executor: Executor, where: str) -> None:
    """Refuses stream ports where they cannot work: in a process-pool node (a generator cannot be pickled), and
    stream inputs read the wrong way for where the code runs (a blocking read on the event loop would stall it)."""
    streams = [port.name for port in [*inputs, *outputs] if port.codec.stream]
    if streams and executor == "process":
        raise TypeError(
            f'{where}: port "{streams[0]}" is a stream, which a process-pool node cannot have (a generator cannot '
            "cross processes); use the default thread executor"
        )
    for port in inputs:
        mode = port.codec.stream
        if not mode:
            continue
        if executor == "async" and mode == "sync":
            raise TypeError(
                f'{where}: input "{port.name}" is read with a blocking iterator (Stream), which would stall the event '
                "loop an async def node runs on; annotate it AsyncStream[...] and read it with async for"
            )
        if executor != "async" and mode == "async":
            raise TypeError(
                f'{where}: input "{port.name}" is an AsyncStream, which a def node cannot read with async for; '
                "annotate it Stream[...] or make the node async def"
            )
        if executor == "inline":
            raise TypeError(
                f'{where}: input "{port.name}" is a stream, whose reads wait for the next item; an inline node must '
                "not wait on the event loop: use the default thread executor"
            )


def _stream_mismatch(label: str, name: str, given: pb.Input) -> str:
    source = given.WhichOneof("source")
    if source == "stream":
        producer = given.stream
        return (
            f'{label}: input "{name}" takes one value, but it was given the stream "{producer.node_id}.{producer.port}"'
        )
    found = "the output of an earlier step" if source == "step_output" else "a value" if source else "nothing"
    return f'{label}: input "{name}" is a stream of items: expected a stream source, found {found}'


def _resolve_hints(function: Callable[..., Any], where: str) -> dict[str, Any]:
    """The function's annotations, resolved (see ``_resolve``)."""
    try:
        return typing.get_type_hints(function, include_extras=True)
    except NameError:
        pass
    namespace: dict[str, Any] = getattr(function, "__globals__", {})
    return {
        name: _resolve(annotation, namespace, f'{where}: the annotation of "{name}"')
        for name, annotation in getattr(function, "__annotations__", {}).items()
    }


def _class_hints(cls: type) -> dict[str, Any]:
    """A dataclass's or TypedDict's field annotations, resolved (see ``_resolve``)."""
    try:
        return typing.get_type_hints(cls)
    except NameError:
        pass
    hints: dict[str, Any] = {}
    for klass in reversed(cls.__mro__):
        namespace = vars(sys.modules[klass.__module__]) if klass.__module__ in sys.modules else {}
        for name, annotation in vars(klass).get("__annotations__", {}).items():
            hint = _resolve(annotation, namespace, f'field "{name}" of {cls.__qualname__}')
            if typing.get_origin(hint) in (typing.Required, typing.NotRequired):
                hint = typing.get_args(hint)[0]
            hints[name] = hint
    return hints


def _resolve(annotation: Any, namespace: dict[str, Any], where: str) -> Any:
    """Evaluates a string annotation. Table types whose library is imported only under TYPE_CHECKING
    (``"pd.DataFrame"``, ``"pa.Table | None"``) become LazyTable markers, so that a node module need not import
    pandas to declare a pandas port, and the runtime's cold start stays fast."""
    if isinstance(annotation, typing.ForwardRef):  # how TypedDict keeps string annotations
        annotation = annotation.__forward_arg__
    if not isinstance(annotation, str):
        return annotation
    text = annotation.strip()
    optional = text.endswith("| None")
    bare = text.removesuffix("| None").strip()
    if bare in _tables.ANNOTATION_KINDS:
        return LazyTable(_tables.ANNOTATION_KINDS[bare], nullable=optional)
    try:
        return eval(text, namespace)  # noqa: S307 because this is how annotations are resolved (as typing does)
    except NameError:
        pass
    # Table types inside another annotation (``Stream[pa.RecordBatch]``): their modules as LazyTable makers.
    lazy = {alias: _LazyModule(alias) for alias in _LAZY_MODULES if alias not in namespace}
    try:
        return eval(text, {**namespace, **lazy})  # noqa: S307
    except (NameError, AttributeError) as error:
        raise TypeError(f'{where}: cannot resolve "{text}": {error}') from None


_LAZY_MODULES = frozenset(name.split(".", 1)[0] for name in _tables.ANNOTATION_KINDS)


class _LazyModule:
    """Stands for a table library named in a string annotation but not imported: ``pa.RecordBatch`` gives a
    LazyTable."""

    def __init__(self, alias: str) -> None:
        self._alias = alias

    def __getattr__(self, name: str) -> LazyTable:
        kind = _tables.ANNOTATION_KINDS.get(f"{self._alias}.{name}")
        if kind is None:
            raise AttributeError(f"{self._alias}.{name} is not a table type this runtime knows")
        return LazyTable(kind)


def _config_adapter(annotation: Any, where: str) -> TypeAdapter[Any]:
    try:
        return TypeAdapter(annotation)
    except PydanticSchemaGenerationError as error:
        raise TypeError(
            f"{where}: the config must be a pydantic model, TypedDict or dataclass, not {annotation!r}"
        ) from error


def strict_config(annotation: Any) -> Any:
    """A pydantic model config that refuses keys it does not declare, unless the model chose (``extra=...``).

    Because a misspelt config key (``methd`` for ``method``) that pydantic ignores by default leaves the node running
    on its default, configs are checked (and described) with a subclass that has ``extra="forbid"``; a model that
    sets ``extra`` itself (``"allow"``, ``"ignore"``) keeps it. The node still receives an instance of its own
    class. Only the top level: nested models are the node's own.
    """
    given: Any = annotation
    if not (isinstance(given, type) and issubclass(given, BaseModel)):
        return cast("Any", given)
    model: type[BaseModel] = given
    if "extra" in model.model_config:
        return model
    strict: Any = type(
        model.__name__,
        (model,),
        {
            "model_config": {**model.model_config, "extra": "forbid"},
            "__module__": model.__module__,
            "__qualname__": model.__qualname__,
            "__doc__": model.__doc__,
        },
    )
    return strict


def _outputs(
    annotation: Any, output: str | None, where: str
) -> tuple[list[OutputPort], Literal["single", "fields", "none"]]:
    def codec(port: str, hint: Any) -> PortCodec:
        try:
            return port_codec(hint)
        except TypeError as error:
            raise TypeError(f'{where}: output "{port}": {error}') from None

    if annotation is inspect.Parameter.empty:
        annotation = Any
    if output is not None:
        return [OutputPort(output, codec(output, annotation))], "single"
    if annotation in _NO_OUTPUT:
        return [], "none"
    fields = _record_fields(annotation)
    if fields is None:
        return [OutputPort(RESULT_PORT, codec(RESULT_PORT, annotation))], "single"
    return [
        OutputPort(name, codec(name, hint), text, required=required) for name, hint, text, required in fields
    ], "fields"


def _record_fields(hint: object) -> list[tuple[str, Any, str, bool]] | None:
    """(name, annotation, description, always present) of each field of a pydantic model, TypedDict or dataclass;
    None for any other annotation."""
    if not isinstance(hint, type):
        return None
    cls = typing.cast("type[Any]", hint)
    if issubclass(cls, BaseModel):
        return [(name, info.annotation, info.description or "", True) for name, info in cls.model_fields.items()]
    if typing.is_typeddict(cls):
        required_keys = _typed_dict_required_keys(cls)
        return [(name, annotation, "", name in required_keys) for name, annotation in _class_hints(cls).items()]
    if dataclasses.is_dataclass(cls):
        hints = _class_hints(cls)
        return [(item.name, hints.get(item.name, Any), "", True) for item in dataclasses.fields(cls)]
    return None


_REQUIRED_PATTERN = re.compile(r"^(?:typing(?:_extensions)?\.)?(Not)?Required\[")


def _typed_dict_required_keys(cls: type[Any]) -> set[str]:
    """The keys a TypedDict always has. Python 3.11 does not see ``NotRequired[...]`` written as a string (with
    ``from __future__ import annotations``), so string annotations are read here too."""
    keys: set[str] = set(getattr(cls, "__required_keys__", ()))
    for name, annotation in getattr(cls, "__annotations__", {}).items():
        text = annotation.__forward_arg__ if isinstance(annotation, typing.ForwardRef) else annotation
        match = _REQUIRED_PATTERN.match(text.strip()) if isinstance(text, str) else None
        if match is not None:
            if match.group(1):
                keys.discard(name)
            else:
                keys.add(name)
    return keys


def _qualified(function: Callable[..., Any]) -> str:
    return f"{getattr(function, '__module__', '?')}.{getattr(function, '__qualname__', repr(function))}"
