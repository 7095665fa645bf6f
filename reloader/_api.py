"""The public API. This is the one module that talks to the C core: Python
decides which modules and in what order, reads and compiles their source,
builds the Report and runs the hooks; ``_core`` executes and patches."""

from __future__ import annotations

import _imp
import abc
import linecache
import logging
import os
import sys
import threading
import time
import types
from types import MappingProxyType
from typing import Any, Dict, Iterable, List, NamedTuple, Optional, Sequence, Tuple, Union

from . import _config, _core, _reap, _stamps
from ._errors import ReloadError
from ._report import Report

log = logging.getLogger("reloader")

ModuleRef = Union[str, types.ModuleType]

# Two concurrent reload() calls run one after the other.
_batch_lock = threading.RLock()
_reaper = _reap.install(_core.reap)
# path -> (digest, code, source or None, fingerprints): code compiled ahead
# of time (by the watcher's helper process), keyed by source content so that
# a stale code object is never used, with its code fingerprints. An entry is
# dropped once a reload has used it: the code then lives in the functions,
# and a cached copy would only hold memory.
_code_cache: Dict[str, Tuple[bytes, types.CodeType, Optional[bytes],
                             "_core.CodeFingerprints"]] = {}


class _Source(NamedTuple):
    name: str
    module: types.ModuleType
    path: str
    code: types.CodeType
    digest: bytes
    fingerprints: Optional["_core.CodeFingerprints"] = None

    def same_source(self) -> bool:
        """Whether this is the source the module runs now."""
        stamp = _stamps.stamp_of(self.name)
        return stamp is not None and stamp.digest == self.digest


def reloading() -> bool:
    """True in the thread running a batch, while its module code and hooks run."""
    return _core.reloading()


def _resolve(item: object) -> Tuple[str, Optional[types.ModuleType]]:
    if isinstance(item, str):
        return item, sys.modules.get(item)
    if isinstance(item, types.ModuleType):
        name = item.__dict__.get("__name__")
        if not isinstance(name, str):
            raise TypeError("module object has no valid __name__: %r" % (item,))
        return name, item
    raise TypeError("expected a module name or a module object, not %s"
                    % type(item).__name__)


def is_reloadable(module_or_name: ModuleRef) -> bool:
    """Whether reload() would accept this module."""
    name, module = _resolve(module_or_name)
    if module is None or sys.modules.get(name) is not module:
        return False
    return _config.why_not(name, module) is None


def _names(modules: object) -> List[Tuple[str, Optional[types.ModuleType]]]:
    if isinstance(modules, (str, types.ModuleType)):
        items: List[object] = [modules]
    else:
        try:
            items = list(modules)  # type: ignore[call-overload]
        except TypeError:
            raise TypeError("reload() takes a module name, a module or a list of them, "
                            "not %s" % type(modules).__name__) from None
    return [_resolve(item) for item in items]


def _check(name: str, module: Optional[types.ModuleType]) -> types.ModuleType:
    loaded = sys.modules.get(name)
    if module is None:
        if loaded is None:
            raise ReloadError("module %s is not loaded" % name, module=name)
        module = loaded  # type: ignore[assignment]
    elif loaded is not module:
        raise ReloadError("module %s is not the one loaded in sys.modules" % name,
                          module=name)
    why = _config.why_not(name, module)
    if why is not None:
        raise ReloadError(why, module=name)
    return module  # type: ignore[return-value]


def _collect(modules: object, recursive: bool) -> List[Tuple[str, types.ModuleType]]:
    if modules is None:
        pairs: List[Tuple[str, Optional[types.ModuleType]]] = [
            (n, sys.modules.get(n)) for n in _stamps.changed()]
    else:
        pairs = _names(modules)
    out: Dict[str, types.ModuleType] = {}
    for name, module in pairs:
        subs = _submodules(name) if recursive else []
        try:
            module = _check(name, module)
        except ReloadError:
            # a namespace package (no source of its own) still names the
            # submodules to reload
            if not (subs and _config.source_path(sys.modules.get(name)) is None):
                raise
        else:
            out.setdefault(_stamps.own_name(name, module), module)
        for sub, submod in subs:
            out.setdefault(sub, submod)
    return list(out.items())


def _submodules(name: str) -> List[Tuple[str, types.ModuleType]]:
    """The loaded submodules of ``name`` that can be reloaded, under their
    own names. One whose file is gone (deleted from the project) is left
    out, as changed() leaves it out: it keeps running its code."""
    prefix = name + "."
    out = []
    for sub, submod in list(sys.modules.items()):
        if sub.startswith(prefix) and _stamps.reloadable(sub, submod):
            path = _config.source_path(submod)  # type: ignore[arg-type]
            if path is not None and os.path.isfile(path):
                out.append((sub, submod))
    return out  # type: ignore[return-value]


class _Stale(Exception):
    """A file no longer holds the content a caller expected (its digest): a
    save is under way. Nothing ran; the caller waits for the next edit."""


def _compile(name: str, module: types.ModuleType,
             expect: Optional[bytes] = None) -> _Source:
    path = _config.source_path(module)
    if path is None:  # checked before, but the module may have changed
        raise ReloadError("module %s has no Python source" % name, module=name)
    try:
        with open(path, "rb") as fh:
            data = fh.read()
    except OSError as exc:
        raise ReloadError("cannot read the source of %s: %s" % (name, exc),
                          module=name) from exc
    hit = _code_cache.pop(path, None)
    # the very bytes it was compiled from: no need to hash them again
    exact = hit is not None and hit[2] is not None and hit[2] == data
    digest = hit[0] if exact else _stamps.digest(data)  # type: ignore[index]
    if expect is not None and digest != expect:
        if hit is not None:
            _code_cache[path] = hit  # still good for the content expected
        raise _Stale(name)
    if hit is not None and hit[0] == digest:
        return _Source(name, module, path, hit[1], digest, hit[3])
    try:
        code = compile(data, path, "exec", dont_inherit=True)
    except Exception as exc:  # SyntaxError, ValueError (NUL), RecursionError, ...
        raise ReloadError("cannot compile %s: %s: %s" % (name, type(exc).__name__, exc),
                          module=name) from exc
    return _Source(name, module, path, code, digest)


def core_file() -> str:
    """The C core's file, for a helper process that loads it on its own
    (the watcher's compiler); empty when the core has no file."""
    return getattr(_core, "__file__", None) or ""


def run_on_main_thread(fn) -> bool:
    """Ask CPython to call ``fn()`` on the main thread at its next safe point
    (Py_AddPendingCall). False when CPython's queue is full."""
    return _core.add_pending_call(fn)


def precompiled(path: str, digest: bytes, code: types.CodeType,
                source: Optional[bytes] = None,
                fingerprints: Optional[bytes] = None) -> None:
    """Offer code compiled elsewhere (the watcher's helper process) for the
    source whose content has this digest. With ``source`` (those bytes), the
    next reload compares bytes instead of hashing the file again.

    The code's fingerprints let the reload tell unchanged definitions without
    reading their old code. They are computed here, off the reload's path,
    unless ``fingerprints`` brings them: the ``blob()`` of
    ``_core.CodeFingerprints`` of the same code, made where it was compiled."""
    fps = _core.CodeFingerprints(code, fingerprints)
    _code_cache[path] = (digest, code, source, fps)


def reload(modules: Union[None, ModuleRef, Iterable[ModuleRef]] = None, *,
           recursive: bool = False, strict: bool = False) -> Report:
    """Apply one batch; see the README. Raises ReloadError if nothing was applied."""
    return _reload(modules, recursive, strict)


def _reload(modules: Union[None, ModuleRef, Iterable[ModuleRef]], recursive: bool,
            strict: bool, expect: Optional[Dict[str, bytes]] = None) -> Report:
    """reload(); with expect (module name -> digest), _Stale when a module's
    file no longer holds that content, before anything ran."""
    started = time.perf_counter()
    if _core.reloading():
        # module code or a hook of a running batch: its modules are out of
        # sys.modules and half-planned; a nested batch would see that
        raise ReloadError("reload() called while a batch is running (from module "
                          "code or a hook)", report=Report())
    with _batch_lock:
        try:
            batch = _collect(modules, bool(recursive))
            sources = [_compile(name, module, (expect or {}).get(name))
                       for name, module in batch]
        except ReloadError as exc:
            # refused before anything ran: the report of an empty attempt
            exc.report = Report(duration=time.perf_counter() - started)
            raise
        if not batch:
            report = Report(duration=time.perf_counter() - started)
            _log(report)
            return report
        report = _apply(sources, bool(strict), started)
        # The new code trees are garbage but for the definitions that took
        # their code: the reaper frees them after this call returns.
        trees = [s.code for s in sources]
        codes = (None if any(s.fingerprints is None for s in sources)
                 else sum(len(s.fingerprints) for s in sources))
        del sources
        _reaper.retire(trees, codes)
    _log(report)
    return report


def _fail(message: str, module: str, txn: "_core.Transaction", started: float,
          plan: Optional[dict] = None) -> ReloadError:
    report = _make_report(txn, plan or {}, [], started)
    return ReloadError(message, module=module, report=report)


def _make_report(txn: "_core.Transaction", plan: dict, errors: Sequence[str],
                 started: float) -> Report:
    return Report(
        modules=txn.order,
        updated=plan.get("updated", ()),
        added=plan.get("added", ()),
        removed=plan.get("removed", ()),
        data_replaced=plan.get("data_replaced", ()),
        restart_required=[(q, r) for _m, q, r in plan.get("restart_required", ())],
        errors=errors,
        duration=time.perf_counter() - started,
    )


def _apply(sources: List[_Source], strict: bool, started: float) -> Report:
    txn = _core.Transaction([(s.name, s.module, s.code, s.path, s.fingerprints,
                              s.same_source()) for s in sources])
    # Imports and reloads do not interleave: other threads that import wait.
    _imp.acquire_lock()
    try:
        _core.enter_reloading()
        try:
            txn.execute()
        except KeyboardInterrupt:
            raise  # the batch is undone; the user asked to stop
        except BaseException as exc:  # SystemExit from module code too
            failed = txn.failed or sources[0].name
            raise _fail("reloading %s failed: %s: %s" % (failed, type(exc).__name__, exc),
                        failed, txn, started) from exc
        finally:
            _core.exit_reloading()
        try:
            plan = txn.plan()
        except Exception as exc:  # the batch was released; nothing changed
            failed = txn.failed or sources[0].name
            raise _fail("cannot reload %s: %s" % (failed, exc), failed, txn,
                        started) from exc
        if strict and plan["restart_required"]:
            txn.release()
            first = plan["restart_required"][0]
            raise _fail("strict reload refused: %s needs a restart (%s)" % (first[1], first[2]),
                        first[0], txn, started, plan)
        hooked = [name for name in txn.order if txn.defines(name, "__reload__")]
        olds = {name: MappingProxyType(dict(sys.modules[name].__dict__)) for name in hooked}
        try:
            txn.commit(bool(hooked))
        except Exception as exc:  # undone by the core before it raised
            raise _fail("cannot commit %s: %s: %s" % (", ".join(txn.order),
                        type(exc).__name__, exc), sources[0].name, txn,
                        started, plan) from exc
        if hooked:
            _run_module_hooks(txn, hooked, olds, started, plan)
        txn.release()
    finally:
        _imp.release_lock()
    for s in sources:
        _stamps.record(s.name, s.path, s.digest)
        # warnings, pdb and tracemalloc read linecache without checking it
        # against the file (tracebacks do): drop the old source's lines
        linecache.checkcache(s.path)
    if plan.get("updated"):
        _forget_abc_answers()
    errors = _run_instance_hooks(txn.classes())
    return _make_report(txn, plan, errors, started)


def _run_module_hooks(txn, hooked, olds, started, plan) -> None:
    _core.enter_reloading()
    try:
        for name in hooked:
            hook = sys.modules[name].__dict__.get("__reload__")
            if not callable(hook):
                continue
            try:
                hook(olds[name])
            except BaseException as exc:
                txn.rollback()
                if isinstance(exc, KeyboardInterrupt):
                    raise
                raise _fail("%s.__reload__ raised %s: %s" % (name, type(exc).__name__, exc),
                            name, txn, started, plan) from exc
    finally:
        _core.exit_reloading()


def _one_line(exc: BaseException) -> str:
    """The message of exc on one line (a report has one line per error)."""
    try:
        text = str(exc)
    except Exception:  # a broken __str__ must not undo the batch's report
        return "<unprintable %s>" % type(exc).__name__
    return "\\n".join(text.splitlines())


class _Token(abc.ABC):
    """An ABC of our own, for _forget_abc_answers()."""


class _Member:
    pass


def _forget_abc_answers() -> None:
    """Make every ABC forget its cached "not a subclass" answers: a kept
    class that gained __len__ is Sized now. Registering a class with any
    ABC bumps the counter those caches are checked against (abc.py); ours
    is registered anew each time, no class made."""
    _Token._abc_registry_clear()  # type: ignore[attr-defined]
    _Token.register(_Member)


def _instance_hook(cls: type) -> Any:
    """cls's __reload_instance__ as the class defines or inherits it (its
    MRO's dicts: not a metaclass's attribute, nor a metaclass __getattr__
    that answers every name), as getattr(cls, ...) gives it; or None."""
    for k in _TYPE_MRO.__get__(cls):
        ns = _TYPE_DICT.__get__(k)  # past a metaclass's __getattribute__
        raw = ns.get("__reload_instance__")
        if raw is not None:
            get = getattr(type(raw), "__get__", None)
            return get(raw, None, cls) if get is not None else raw
        if "__reload_instance__" in ns:
            return None  # set to None: switched off here
    return None


_TYPE_MRO = type.__dict__["__mro__"]
_TYPE_DICT = type.__dict__["__dict__"]


def _run_instance_hooks(classes: Sequence[type]) -> List[str]:
    # the classes that have the hook, or a subclass (in any module) that has it
    hooked = _core.with_hook(tuple(classes), "__reload_instance__")
    if not hooked:
        return []
    errors: List[str] = []
    _core.enter_reloading()
    try:
        hooks: Dict[type, Any] = {}
        for obj in _core.find_instances(hooked):
            cls = type(obj)
            if cls not in hooks:
                hooks[cls] = _instance_hook(cls)
            hook = hooks[cls]
            if hook is None:
                continue
            try:
                hook(obj)
            except (Exception, SystemExit) as exc:  # the batch stands; ^C stops
                line = "%s.%s.__reload_instance__: %s: %s" % (
                    type(obj).__module__, type(obj).__qualname__, type(exc).__name__,
                    _one_line(exc))
                errors.append(line)
                log.warning("reloader: %s", line)
    finally:
        _core.exit_reloading()
    return errors


def _log(report: Report) -> None:
    if not log.isEnabledFor(logging.INFO):
        return
    log.info("reloaded %s in %.1f ms: %d updated, %d added, %d removed, %d data replaced, "
             "%d need a restart, %d errors",
             ", ".join(report.modules) or "nothing", report.duration * 1000.0,
             len(report.updated), len(report.added), len(report.removed),
             len(report.data_replaced), len(report.restart_required), len(report.errors))
    if log.isEnabledFor(logging.DEBUG):
        for line in report.lines():
            log.debug("%s", line)


def changed() -> List[str]:
    """Names of loaded, reloadable modules whose source differs from what runs."""
    return _stamps.changed()
