"""JSON values to typed model objects, checked, by converters built once per type."""

from __future__ import annotations

import dataclasses
import json
import math
import threading
import types
import typing
from collections.abc import Callable
from typing import Any, TypeVar

from gpudoctor.errors import ReportFormatError
from gpudoctor.model.findings import Severity

T = TypeVar("T")

UINT_LIMIT = 1 << 64
"""Counters, sizes and NVML bitmasks are unsigned 64-bit at most."""

SIGNED = "signed"
"""Field metadata key: ``field(metadata={SIGNED: True})`` lets a number be negative."""

MAX_REPORT_ENTRIES = 10_000
"""The most list and object entries a report read from outside may hold, all lists together.

A real report has a few hundred (8 GPUs with their processes, libraries, errors); a million
GPUs fit in 16 MiB and would take minutes and gigabytes to diagnose and render.
"""


class _Bad(Exception):
    """A value refused deep in a document: the message, and the path to it built on the way out.

    The path (``$.nvml.gpus[3].index``) is spelled out only for the value refused; building it
    for every value read took a third of the time of reading a report.
    """

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message
        self.steps: list[str] = []
        """From the refused value outwards: ``.index``, ``[3]``, ``.gpus``, ``.nvml``."""


@dataclasses.dataclass
class _Checks:
    """What a value read from outside must satisfy beyond its type."""

    numbers: bool = False
    """Finite, non-negative (unless the field is marked signed) and within 64 bits."""
    entries_left: int | None = None
    """How many more list and object entries may come; None: no limit (trusted data)."""

    def entries(self, n: int) -> None:
        if self.entries_left is None:
            return
        self.entries_left -= n
        if self.entries_left < 0:
            raise _Bad(
                f"the report holds more than {MAX_REPORT_ENTRIES:,} list entries, "
                "more than any machine has"
            )


Converter = Callable[[Any, _Checks], Any]
"""A JSON value and the checks to the model's value; a refusal raises :class:`_Bad`."""


def from_dict(cls: type[T], data: Any, where: str = "$", *, check_numbers: bool = False) -> T:
    """Rebuild a model object from its JSON form; unknown keys are ignored (newer minor fields).

    With ``check_numbers`` (data from outside: a saved report) every number must be finite,
    non-negative unless its field says ``metadata={SIGNED: True}``, and fit in 64 bits, and
    all lists together hold at most :data:`MAX_REPORT_ENTRIES` entries. Probe data is taken as
    measured: a GPU that computes NaN is a fact to report, not bad input. A refusal is one
    :class:`ReportFormatError` naming the value: ``$.nvml.gpus[3].index: expected int``.
    """
    if not isinstance(data, dict):
        raise ReportFormatError(f"{where}: expected an object")
    checks = _Checks(
        numbers=check_numbers, entries_left=MAX_REPORT_ENTRIES if check_numbers else None
    )
    try:
        return typing.cast(T, converter(cls)(data, checks))
    except _Bad as bad:
        raise ReportFormatError(f"{where}{''.join(reversed(bad.steps))}: {bad.message}") from None


def short(value: Any) -> str:
    """A value as JSON, cut to 40 characters, for messages."""
    shown = json.dumps(value) if not isinstance(value, int) else str(value)
    return shown if len(shown) <= 40 else shown[:37] + "..."


# --- converters, built once per type ----------------------------------------------------------
#
# Reading a report used to walk its type for every value (typing.get_origin/get_args and
# dataclasses.fields each time: 70 % of `fleet report`). Now each (type, signed) gets its
# converter once: a dataclass's is a loop over its fields prepared once, and once the type
# has read COMPILE_AFTER values, a function generated for it, as dataclasses generate
# __init__: one straight run over its fields with the common values (str, int, bool, float,
# each optional or not) checked in line. The order of the checks, and so the refusal a bad
# value gets, is that of a walk of the type: absent, null, the type, the number's range, the
# entry count, then the items in order.

_CONVERTERS: dict[tuple[Any, bool], Converter] = {}
_NULL = "must not be null"


_BUILDING = threading.RLock()
"""Held while converters are built: check's probe threads read their results at once."""
_PENDING: dict[tuple[Any, bool], Converter] = {}
"""Dataclasses whose converters are being built, seen only by the thread building them."""


def converter(tp: Any, signed: bool = False) -> Converter:
    """The converter of type ``tp`` (``signed``: its numbers may be negative), built once."""
    key = (tp, signed)
    conv = _CONVERTERS.get(key)
    if conv is not None:
        return conv
    with _BUILDING:
        conv = _CONVERTERS.get(key) or _PENDING.get(key)
        if conv is not None:
            return conv
        if dataclasses.is_dataclass(tp) and isinstance(tp, type):
            # A dataclass's fields may hold itself: while its converter is being built,
            # they get one that looks it up when called (by then it is built).
            def late(value: Any, checks: _Checks) -> Any:
                return _CONVERTERS[key](value, checks)

            _PENDING[key] = late
        try:
            conv = _CONVERTERS[key] = _build(tp, signed)
        finally:
            _PENDING.pop(key, None)
        return conv


def _build(tp: Any, signed: bool) -> Converter:
    origin = typing.get_origin(tp)
    if tp is Any:
        return _any
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        inner = converter(next(a for a in args if a is not type(None)), signed)
        return _optional(inner) if type(None) in args else inner  # inner refuses null itself
    if dataclasses.is_dataclass(tp) and isinstance(tp, type):
        return _dataclass(tp)
    if tp is Severity:
        return _severity
    if origin is tuple:
        args = typing.get_args(tp)
        if len(args) == 2 and args[1] is Ellipsis:
            return _sequence(converter(args[0], signed))
        return _fixed(tuple(converter(a, signed) for a in args))  # (node, node), (node, why)
    if origin is dict:
        _, vt = typing.get_args(tp)
        return _mapping(converter(vt, signed))
    leaf = _LEAVES.get((tp, signed))
    return leaf if leaf is not None else _unsupported(tp)


def _any(value: Any, checks: _Checks) -> Any:
    return value


def _unsupported(tp: Any) -> Converter:
    def convert(value: Any, checks: _Checks) -> Any:  # pragma: no cover - no model field has it
        raise _Bad(_NULL if value is None else f"unsupported type {tp!r}")

    return convert


def _optional(inner: Converter) -> Converter:
    def convert(value: Any, checks: _Checks) -> Any:
        return None if value is None else inner(value, checks)

    return convert


def _severity(value: Any, checks: _Checks) -> Severity:
    if value is None:
        raise _Bad(_NULL)
    try:
        return Severity.parse(str(value))
    except ValueError as exc:
        raise _Bad(str(exc)) from None


def _number(value: int | float, *, signed: bool) -> None:
    """Refuse NaN, infinities, negative counters and integers no field can hold."""
    if isinstance(value, float) and not math.isfinite(value):
        raise _Bad(f"must be a finite number, not {value}")
    if value < 0 and not signed:
        raise _Bad(f"must not be negative (got {short(value)})")
    if isinstance(value, int) and not -UINT_LIMIT < value < UINT_LIMIT:
        raise _Bad(f"{short(value)} is out of range")


def _str(value: Any, checks: _Checks) -> str:
    if isinstance(value, str):
        return value
    raise _Bad(_NULL if value is None else "expected str")


def _bool(value: Any, checks: _Checks) -> bool:
    if isinstance(value, bool):
        return value
    raise _Bad(_NULL if value is None else "expected bool")


def _int_of(value: Any, checks: _Checks, signed: bool) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise _Bad(_NULL if value is None else "expected int")
    if checks.numbers:
        _number(value, signed=signed)
    return value


def _float_of(value: Any, checks: _Checks, signed: bool) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _Bad(_NULL if value is None else "expected a number")
    if checks.numbers:
        _number(value, signed=signed)
    return float(value)


_LEAVES: dict[tuple[Any, bool], Converter] = {
    (str, False): _str,
    (str, True): _str,
    (bool, False): _bool,
    (bool, True): _bool,
    (int, False): lambda value, checks: _int_of(value, checks, False),
    (int, True): lambda value, checks: _int_of(value, checks, True),
    (float, False): lambda value, checks: _float_of(value, checks, False),
    (float, True): lambda value, checks: _float_of(value, checks, True),
}


def _fixed(items: tuple[Converter, ...]) -> Converter:
    """A list of exactly ``len(items)`` values, each read by its own converter: a pair of
    nodes given as 12 names or none was taken whole, and broke whatever unpacked it."""

    def convert(value: Any, checks: _Checks) -> tuple[Any, ...]:
        if not isinstance(value, list):
            raise _Bad(_NULL if value is None else "expected a list")
        if len(value) != len(items):
            raise _Bad(f"expected a list of {len(items)}, not of {len(value)}")
        out = []
        try:
            for item, v in zip(items, value, strict=True):
                out.append(item(v, checks))
        except _Bad as bad:
            bad.steps.append(f"[{len(out)}]")
            raise
        return tuple(out)

    return convert


def _sequence(item: Converter) -> Converter:
    def convert(value: Any, checks: _Checks) -> tuple[Any, ...]:
        if not isinstance(value, list):
            raise _Bad(_NULL if value is None else "expected a list")
        if checks.entries_left is not None:
            checks.entries(len(value))
        if item is _str:
            for v in value:
                if v.__class__ is not str:
                    break  # the loop below says which and why
            else:
                return tuple(value)  # paths, versions, names: strings only, the common case
        out = []
        try:
            for v in value:
                out.append(item(v, checks))
        except _Bad as bad:
            bad.steps.append(f"[{len(out)}]")  # the items before it were read
            raise
        return tuple(out)

    return convert


def _mapping(item: Converter) -> Converter:
    def convert(value: Any, checks: _Checks) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise _Bad(_NULL if value is None else "expected an object")
        if checks.entries_left is not None:
            checks.entries(len(value))
        out: dict[str, Any] = {}
        key: Any = None
        try:
            for key, v in value.items():
                out[str(key)] = item(v, checks)
        except _Bad as bad:
            bad.steps.append(f".{key}")
            raise
        return out

    return convert


def _at(conv: Converter, value: Any, checks: _Checks, step: str) -> Any:
    """``conv(value)``, naming the field on the way out when it refuses the value."""
    try:
        return conv(value, checks)
    except _Bad as bad:
        bad.steps.append(step)
        raise


# In-line tests of a generated converter: the value ``v`` is taken as it is when it passes,
# else its converter is called (which converts it, or refuses it with the right message).
# None passes only where the field is optional; ``numbers`` is checks.numbers.
_FAST: dict[tuple[Any, bool], str] = {
    (str, False): "v.__class__ is str",
    (bool, False): "v is True or v is False",
    (int, False): "v.__class__ is int and (not numbers or 0 <= v < UINT_LIMIT)",
    (int, True): "v.__class__ is int and (not numbers or -UINT_LIMIT < v < UINT_LIMIT)",
    (float, False): "v.__class__ is float and (not numbers or 0.0 <= v < INF)",
    (float, True): "v.__class__ is float and (not numbers or -INF < v < INF)",
}


COMPILE_AFTER = 32
"""A dataclass's converter is written out as a function of its own once it has read this many
values: compiling one takes as long as reading a hundred (20-40 ms for a report's 26 types,
which one ``check --from-report`` would pay for nothing); a fleet's thousands repay it."""


def _dataclass(cls: type) -> Converter:
    """The converter of dataclass ``cls``: a loop over its fields, then a function of its own."""
    steps = _steps(cls)
    compiled: list[Converter] = []
    calls = 0

    def convert(value: Any, checks: _Checks) -> Any:
        nonlocal calls
        if compiled:
            return compiled[0](value, checks)
        calls += 1
        if calls > COMPILE_AFTER:
            compiled.append(_generate(cls))
            return compiled[0](value, checks)
        if not isinstance(value, dict):
            raise _Bad(_NULL if value is None else "expected an object")
        kwargs = {}
        for name, step, required, conv in steps:
            v = value.get(name, _ABSENT)
            if v is _ABSENT:
                if required:
                    raise _Bad(f"missing field {name!r}")
                continue
            try:
                kwargs[name] = conv(v, checks)
            except _Bad as bad:
                bad.steps.append(step)
                raise
        return cls(**kwargs)

    return convert


def _steps(cls: type) -> list[tuple[str, str, bool, Converter]]:
    """(name, ``.name``, required, converter) of each field of ``cls``, in order."""
    hints = typing.get_type_hints(cls)
    return [
        (
            f.name,
            f".{f.name}",
            f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING,
            converter(hints[f.name], bool(f.metadata.get(SIGNED, False))),
        )
        for f in dataclasses.fields(cls)
    ]


def _generate(cls: type) -> Converter:
    """The converter of dataclass ``cls``: a function written for its fields."""
    hints = typing.get_type_hints(cls)
    names: dict[str, Any] = {
        "cls": cls,
        "_Bad": _Bad,
        "_at": _at,
        "ABSENT": _ABSENT,
        "UINT_LIMIT": UINT_LIMIT,
        "INF": math.inf,
        "NULL": _NULL,
    }
    lines = [
        "def convert(value, checks):",
        "    if not isinstance(value, dict):",
        "        raise _Bad(NULL if value is None else 'expected an object')",
        "    get = value.get",
        "    numbers = checks.numbers",
    ]
    args = []
    for i, f in enumerate(dataclasses.fields(cls)):
        tp = hints[f.name]
        signed = bool(f.metadata.get(SIGNED, False))
        var = f"f{i}"
        names[f"c{i}"] = converter(tp, signed)
        lines.append(f"    v = get({f.name!r}, ABSENT)")
        lines.append("    if v is ABSENT:")
        if f.default is not dataclasses.MISSING:
            names[f"d{i}"] = f.default
            lines.append(f"        {var} = d{i}")
        elif f.default_factory is not dataclasses.MISSING:
            names[f"d{i}"] = f.default_factory
            lines.append(f"        {var} = d{i}()")
        else:
            lines.append(f"        raise _Bad({f'missing field {f.name!r}'!r})")
        fast = _fast_test(tp, signed)
        if fast is not None:
            lines.append(f"    elif {fast[0]}:")
            lines.append(f"        {var} = {fast[1]}")
        lines.append("    else:")
        lines.append(f"        {var} = _at(c{i}, v, checks, {'.' + f.name!r})")
        args.append((f.name, var))
    if _plain(cls):
        # What the dataclass's own __init__ would do, without its object.__setattr__ per field
        # (frozen): the largest part of reading a GPU took that.
        lines.append("    self = new(cls)")
        lines.append(f"    self.__dict__.update({{{', '.join(f'{n!r}: {v}' for n, v in args)}}})")
        lines.append("    return self")
        names["new"] = object.__new__
    else:
        lines.append(f"    return cls({', '.join(f'{n}={v}' for n, v in args)})")
    exec("\n".join(lines), names)  # noqa: S102 - our own text, from the dataclass's fields
    return typing.cast(Converter, names["convert"])


_ABSENT = object()


def _plain(cls: type) -> bool:
    """Whether ``cls``'s __init__ only sets its fields: a generated one, every field in it, no
    __post_init__ and no slots (then its converter fills the instance's __dict__ itself)."""
    params = getattr(cls, "__dataclass_params__", None)
    init = getattr(cls.__dict__.get("__init__"), "__code__", None)
    return (
        params is not None
        and params.init
        # written by dataclasses (from text, as here), not by hand in the class
        and init is not None
        and init.co_filename == "<string>"
        and not hasattr(cls, "__post_init__")
        and "__slots__" not in cls.__dict__
        and all(f.init for f in dataclasses.fields(cls))
    )


def _fast_test(tp: Any, signed: bool) -> tuple[str, str] | None:
    """The in-line test of a value of ``tp`` that needs no checks beyond it, and the field's
    value then (``v`` itself, or ``()`` for an empty list), if there is such a test."""
    optional = False
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        optional = type(None) in args
        tp = next(a for a in args if a is not type(None))
    if typing.get_origin(tp) is tuple and typing.get_args(tp)[1:] == (Ellipsis,) and not optional:
        # no entries to count, no items to check: errors, MIG devices, processes, often
        return "v.__class__ is list and not v", "()"
    test = _FAST.get((tp, signed if tp in (int, float) else False))
    if test is None:
        return None
    return (f"v is None or {test}" if optional else test), "v"
