"""Call things and turn what they do into comparable values.

``outcome(fn, ...)`` is ("ok", normalised result) or ("raise", exception
type name). Results of generated code are tuples of literals, generators
(consumed), coroutines (driven) and returned closures (called). Default
``repr``/``hash`` values, which contain addresses, are normalised.
"""

from __future__ import annotations

import enum
import functools
import inspect
import re
import types
from typing import Any, Callable, Dict, List, Tuple

MISSING = type("Missing", (), {"__repr__": lambda self: "<MISSING>"})()
SENTINEL = object()

Args = Tuple[Tuple[Any, ...], Dict[str, Any]]

MEMBER_RE = re.compile(r"^(m_\d+|N_\d+|who)$")
DEFINITION_TYPES = (types.FunctionType, classmethod, staticmethod, property,
                    functools.cached_property, type, functools._lru_cache_wrapper)


def is_definition(value: object) -> bool:
    return isinstance(value, DEFINITION_TYPES)


def is_data(value: object) -> bool:
    return not isinstance(value, DEFINITION_TYPES + (types.ModuleType,))


def instances_of(cls: type):
    """Instances to probe a class with: its members for an Enum, else a
    new instance (None when the class cannot be called without arguments)."""
    if isinstance(cls, enum.EnumMeta):
        return {m.name: m for m in cls}
    return {"()": cls()}


def drive(coro):
    try:
        coro.send(None)
    except StopIteration as stop:
        return stop.value
    coro.close()
    raise RuntimeError("generated coroutine suspended")


def drive_agen(agen):
    out = []
    while True:
        step = agen.asend(None)
        try:
            step.send(None)
        except StopIteration as stop:
            out.append(stop.value)
            continue
        except StopAsyncIteration:
            return out
        step.close()
        raise RuntimeError("generated async generator suspended")


def norm(value, depth: int = 0):
    if isinstance(value, types.AsyncGeneratorType):
        return ("agen", [norm(v, depth) for v in drive_agen(value)])
    if isinstance(value, types.GeneratorType):
        return ("gen", [norm(v, depth) for v in value])
    if isinstance(value, types.CoroutineType):
        return ("coro", norm(drive(value), depth))
    if isinstance(value, tuple):
        return tuple(norm(v, depth) for v in value)
    if isinstance(value, list):
        return [norm(v, depth) for v in value]
    if isinstance(value, dict):
        return {k: norm(v, depth) for k, v in value.items()}
    if isinstance(value, (types.FunctionType, functools._lru_cache_wrapper)):
        if depth > 1:
            return ("fn", value.__qualname__)
        sets = argsets(value)
        return ("fn", value.__qualname__,
                tuple(outcome(value, *a, _depth=depth + 1, **k) for a, k in sets[:1]))
    if isinstance(value, types.MethodType):
        return ("method", value.__func__.__qualname__)
    if isinstance(value, type):
        return ("class", value.__qualname__)
    if isinstance(value, enum.Enum):
        return ("member", type(value).__qualname__, value.name)
    if isinstance(value, str):
        return "<addr>" if " at 0x" in value else value
    if value is None or isinstance(value, (int, float, bytes, bool)):
        return value
    return ("obj", type(value).__qualname__)


def outcome(fn: Callable, /, *args, _depth: int = 0, **kwargs):
    try:
        return ("ok", norm(fn(*args, **kwargs), _depth))
    except Exception as exc:  # the comparison is about which exception
        return ("raise", type(exc).__name__)


def get(obj: object, name: str):
    """getattr as an outcome; the raw value on success."""
    try:
        return ("ok", getattr(obj, name))
    except Exception as exc:
        return ("raise", type(exc).__name__)


def argsets(fn: Callable, skip_first: bool = False) -> List[Args]:
    """Argument sets valid for fn's signature: only the required ones,
    everything positionally, and keywords where allowed."""
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return [((), {})]
    ps = list(sig.parameters.values())
    P = inspect.Parameter
    if skip_first and ps and ps[0].kind in (P.POSITIONAL_ONLY, P.POSITIONAL_OR_KEYWORD):
        ps = ps[1:]
    minimal: Args = ((), {})
    full: Args = ((), {})
    bykw: Args = ((), {})
    margs, fargs, kargs = [], [], []
    mkw: Dict[str, Any] = {}
    fkw: Dict[str, Any] = {}
    kkw: Dict[str, Any] = {}
    for i, p in enumerate(ps):
        value = 100 + i
        required = p.default is P.empty
        if p.kind == P.POSITIONAL_ONLY:
            if required:
                margs.append(value)
            fargs.append(value)
            kargs.append(value)
        elif p.kind == P.POSITIONAL_OR_KEYWORD:
            if required:
                margs.append(value)
            fargs.append(value)
            kkw[p.name] = value
        elif p.kind == P.VAR_POSITIONAL:
            fargs += [901, 902]
        elif p.kind == P.KEYWORD_ONLY:
            if required:
                mkw[p.name] = value
            fkw[p.name] = value
            kkw[p.name] = value
        elif p.kind == P.VAR_KEYWORD:
            fkw["zz"] = 903
            kkw["zz"] = 903
    minimal = (tuple(margs), mkw)
    full = (tuple(fargs), fkw)
    bykw = (tuple(kargs), kkw)
    out: List[Args] = []
    for s in (minimal, full, bykw):
        if s not in out:
            out.append(s)
    return out


def norm_repr(text: str) -> str:
    return text if text.startswith("R:") else "<default repr>"


def norm_hash(h: int):
    return h if abs(h) < 10**6 else "<default hash>"


# Operators every instance is probed with (the generated dunders define
# some of them; the others raise the same exception on both sides).
OPS: Dict[str, Callable[[Any], Any]] = {
    "repr": lambda o: norm_repr(repr(o)),
    "hash": lambda o: norm_hash(hash(o)),
    "eq": lambda o: o == SENTINEL,
    "add": lambda o: o + 1,
    "call": lambda o: o(1, 2),
    "len": len,
    "getitem": lambda o: o[3],
    "lt": lambda o: o < SENTINEL,
    "bool": bool,
}


def mro_raw(cls: type, name: str):
    for k in cls.__mro__:
        if name in vars(k):
            return vars(k)[name]
    return MISSING
