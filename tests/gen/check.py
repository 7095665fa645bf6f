"""Run one generated example: import A, hold references, reload to B and
back to A, and check every held reference against a fresh import.

Every mismatch is collected (not only the first) and reported together, with
the sources of both versions, so a failure reads as a bug report.
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import gc
import importlib
import importlib.util
import itertools
import os
import sys
import traceback
import types
from dataclasses import dataclass
from typing import Dict, List, Optional, Set

import reloader

from . import model as M
from .model import Data, Func, Klass, Model, Version
from .probe import (MEMBER_RE, MISSING, OPS, argsets, get, instances_of, is_data,
                    is_definition, mro_raw, norm, outcome)
from .render import render, render_companion

_uid = itertools.count()
SINGLETONS = (None, True, False, Ellipsis, NotImplemented)
IMPORT_OWN = ("__name__", "__file__", "__spec__", "__loader__", "__package__",
              "__path__", "__cached__", "__builtins__")
# top-level kinds whose Report name is unambiguous (module.name)
LISTED_TOP = ("f", "g", "co", "fa", "dec", "lru", "x")
LISTED_MEMBER = ("method", "deco", "cm", "sm", "gm", "dunder")


class Mismatch(AssertionError):
    pass


@dataclass
class Held:
    path: str      # "f_1", "make_cl_2", "C_1", "C_1.m_0", "C_1.N_0.m_1"
    how: str       # func, factory, class, instance, member, sub_instance, unbound,
    #                bound, cm, sm, suspended
    obj: object
    extra: object = None  # member: the Enum member's name; suspended: (args, kwargs)


def kind_at(version: Version, path: str) -> Optional[str]:
    """The kind of the definition at ``path`` in a version, or None."""
    parts = path.split(".")
    if len(parts) == 1:
        name = parts[0]
        if name.startswith("make_"):
            spec = version.slots.get(name[5:])
            return "factory:" + spec.kind if isinstance(spec, Func) and \
                spec.kind in ("cl", "ct") else None
        spec = version.slots.get(name)
    else:
        owner = M.class_at(version, ".".join(parts[:-1]))
        spec = owner.members.get(parts[-1]) if owner is not None else None
        if owner is not None and parts[-1] == "who" and owner.who:
            return "who"
    if spec is None:
        return None
    if isinstance(spec, Data):
        return "data"
    if isinstance(spec, Klass):
        return "class"
    return spec.kind


def class_changed(a: Klass, b: Klass) -> bool:
    """Whether a class certainly changed between two versions (every
    generated function and docstring embeds its version tag)."""
    if (a.who and b.who) or a.doc or b.doc or (a.base, a.mixin) != (b.base, b.mixin):
        return True
    return any(isinstance(a.members.get(n), (Func, Klass)) and
               isinstance(b.members.get(n), (Func, Klass)) for n in a.members)


def own_definition(cls: type, name: str, value: object) -> bool:
    """A definition the generated source wrote in this class (not Enum's or
    dataclasses' bookkeeping)."""
    if not is_definition(value) or (name.startswith("_") and name.endswith("_")
                                    and not name.startswith("__")):
        return False
    if isinstance(value, type):
        return value.__module__ == cls.__module__
    return True


def one_instance(cls: type):
    return next(iter(instances_of(cls).values()))


def fresh_name(cls: type) -> str:
    return cls.__module__


def resolve(root: object, path: str):
    """Follow a dotted path through ``vars`` (no inheritance)."""
    obj = root
    for p in path.split("."):
        d = vars(obj)
        if p not in d:
            return MISSING
        obj = d[p]
    return obj


class Example:
    """One generated example, run against the real reloader."""

    def __init__(self, model: Optional[Model], root: str,
                 sources: Optional[Dict[str, str]] = None):
        self.model = model
        self.root = root
        n = next(_uid)
        self.name = "rlgen_%d_%d" % (os.getpid(), n)
        self.cname = self.name + "_user"
        self.src = sources or {tag: render(model.v(tag)) for tag in M.VERSIONS}
        self.path = os.path.join(root, self.name + ".py")
        self.errors: List[str] = []
        self.held: List[Held] = []
        self.fresh_n = 0
        self.counters: Dict[str, int] = {}      # ct slot -> n after the last call
        self.fattrs: Dict[str, Dict[str, object]] = {}  # fa slot -> expected attrs
        self.runtime_attr = object()
        self.mod: types.ModuleType
        self.comp: types.ModuleType

    # ------------------------------------------------------------ plumbing

    def fail(self, msg: str) -> None:
        self.errors.append(msg)

    def expect(self, cond: bool, msg: str) -> None:
        if not cond:
            self.fail(msg)

    def write(self, tag: str) -> None:
        with open(self.path, "w", encoding="utf-8") as fh:
            fh.write(self.src[tag])

    def fresh(self, tag: str) -> types.ModuleType:
        """Import ``tag``'s source under another name, in this process; the
        module leaves sys.modules at once, so the reloader never sees it."""
        self.fresh_n += 1
        name = "%s_fresh%s%d" % (self.name, tag, self.fresh_n)
        path = os.path.join(self.root, name + ".py")
        with open(path, "w", encoding="utf-8") as fh:
            fh.write(self.src[tag])
        spec = importlib.util.spec_from_file_location(name, path)
        mod = importlib.util.module_from_spec(spec)
        sys.modules[name] = mod
        try:
            spec.loader.exec_module(mod)
        finally:
            del sys.modules[name]
            os.unlink(path)
        return mod

    def cleanup(self) -> None:
        for name in (self.cname, self.name):
            sys.modules.pop(name, None)
        for p in (self.path, os.path.join(self.root, self.cname + ".py")):
            try:
                os.unlink(p)
            except FileNotFoundError:
                pass

    def report_text(self) -> str:
        return "\n".join(
            ["%d mismatch(es) in %s:" % (len(self.errors), self.name)]
            + ["  - " + e for e in self.errors[:60]]
            + (["  ... %d more" % (len(self.errors) - 60)] if len(self.errors) > 60 else [])
            + ["", "---- version A ----", self.src["A"], "---- version B ----", self.src["B"]])

    def raise_if_failed(self) -> None:
        if self.errors:
            raise Mismatch(self.report_text())

    # ------------------------------------------------------------- the run

    def run(self) -> None:
        crash = None
        try:
            self._run()
        except Mismatch:
            raise
        except Exception:
            crash = traceback.format_exc()
        finally:
            self.cleanup()
        if crash is not None:
            # generated file names differ per example: raise from here, with
            # no __context__, so hypothesis sees one failure while it shrinks
            self.fail("unexpected exception:\n" + crash)
            raise Mismatch(self.report_text())

    def _run(self) -> None:
        self.write("A")
        with open(os.path.join(self.root, self.cname + ".py"), "w", encoding="utf-8") as fh:
            fh.write(render_companion(self.name, self.model.v("A")))
        importlib.invalidate_caches()
        self.mod = importlib.import_module(self.name)
        self.comp = importlib.import_module(self.cname)
        self.collect_held()
        vA, vB = self.model.v("A"), self.model.v("B")
        for slot, spec in vA.slots.items():
            if isinstance(spec, Func) and spec.kind == "fa":
                self.fattrs[slot] = dict(spec.attrs)
                vars(self.mod)[slot].rt_attr = self.runtime_attr
        # the generator's own sanity: held A references behave like fresh A
        fa = self.freshA = self.fresh("A")
        self.compare_all(vA, vA, fa, phase="sanity")
        if self.errors:
            raise AssertionError("generator bug (A vs fresh A differ):\n" + self.report_text())
        for phase, (old, new) in enumerate(((vA, vB), (vB, vA))):
            self.step(phase, old, new)
            self.raise_if_failed()

    def step(self, phase: int, old: Version, new: Version) -> None:
        label = "%s->%s" % (old.tag, new.tag)
        self.call_counters(old)
        self.mutate(phase)
        pre_mod = dict(vars(self.mod))
        pre_comp = dict(vars(self.comp))
        pre_cls = {path: dict(vars(resolve(self.mod, path)))
                   for path, _ in M.classes_of(old)}
        inst_state = [(h, dict(vars(h.obj))) for h in self.held
                      if h.how in ("instance", "sub_instance")]
        gc_was = gc.isenabled()
        meta_path = list(sys.meta_path)
        self.write(new.tag)
        try:
            report = reloader.reload(self.name)
        except reloader.ReloadError as exc:
            self.fail("%s: reload raised %r (cause %r)" % (label, exc, exc.__cause__))
            return
        self.expect(gc.isenabled() == gc_was, "%s: gc.isenabled() changed" % label)
        fresh = self.fresh(new.tag)
        self.expect(sys.meta_path == meta_path, "%s: sys.meta_path changed" % label)
        for h, state in inst_state:
            now = vars(h.obj)
            if now.keys() != state.keys() or any(now[k] is not v for k, v in state.items()):
                self.fail("%s: instance state of %s (%s) changed: %r -> %r"
                          % (label, h.path, h.how, state, dict(now)))
        if phase == 0:
            self.check_suspended(label)
        self.check_counters(label, old, new, fresh)
        self.check_fattrs(label, old, new)
        self.check_data(label, old, new, fresh, pre_mod, pre_comp, pre_cls)
        self.check_report(label, old, new, fresh, report, pre_mod, pre_cls)
        for key in IMPORT_OWN:
            if key in pre_mod:
                self.expect(vars(self.mod).get(key, MISSING) is pre_mod[key],
                            "%s: module %s changed" % (label, key))
        self.compare_all(old, new, fresh, phase=label)

    # ------------------------------------------------------- held references

    def collect_held(self) -> None:
        v = self.model.v("A")
        mod = self.mod
        for name in v.order:
            spec = v.slots[name]
            obj = vars(mod)[name]
            if isinstance(spec, Func):
                self.held.append(Held(name, "func", obj))
                if spec.kind == "g":
                    # a generator suspended in A's code finishes in it (SPEC §2.9)
                    a, k = argsets(obj)[0]
                    gen = obj(*a, **k)
                    next(gen)
                    self.held.append(Held(name, "suspended", gen, (a, k)))
                if spec.kind in ("cl", "ct"):
                    self.held.append(Held("make_" + name, "factory", vars(mod)["make_" + name]))
            elif isinstance(spec, Klass):
                self.collect_class(name, spec, obj)
                if name.startswith("C") and spec.flavour != "enum":
                    sub = getattr(self.comp, "Sub_" + name)
                    self.held.append(Held(name, "sub_instance", sub()))

    def collect_class(self, path: str, k: Klass, cls: type) -> None:
        self.held.append(Held(path, "class", cls))
        if k.flavour == "enum":
            for mname, _ in k.enum_members:
                self.held.append(Held(path, "member", getattr(cls, mname), mname))
            inst = getattr(cls, k.enum_members[0][0])
        else:
            inst = cls()
            self.held.append(Held(path, "instance", inst))
        for mname, spec in k.members.items():
            mpath = path + "." + mname
            if isinstance(spec, Klass):
                self.collect_class(mpath, spec, vars(cls)[mname])
            elif isinstance(spec, Func):
                kind = spec.kind
                if kind in ("method", "deco", "gm", "lam", "dunder"):
                    self.held.append(Held(mpath, "unbound", vars(cls)[mname]))
                    if kind != "dunder":
                        self.held.append(Held(mpath, "bound", getattr(inst, mname)))
                elif kind == "cm":
                    self.held.append(Held(mpath, "cm", getattr(cls, mname)))
                elif kind == "sm":
                    self.held.append(Held(mpath, "sm", getattr(cls, mname)))
        if k.who:
            self.held.append(Held(path + ".who", "bound", inst.who))
            self.held.append(Held(path + ".who", "unbound", vars(cls)["who"]))

    def survives(self, h: Held, old: Version, new: Version) -> bool:
        """Held references are checked while their definition exists, with
        the same kind, in A and in every version reloaded since."""
        ka = kind_at(self.model.v("A"), h.path)
        return ka is not None and ka != "data" and ka == kind_at(old, h.path) == \
            kind_at(new, h.path)

    # ------------------------------------------------------------ comparing

    def compare_all(self, old: Version, new: Version, fresh: types.ModuleType,
                    phase: str) -> None:
        mod = self.mod
        # 1. every definition of the new version, through the module
        for name, fv in vars(fresh).items():
            if name.startswith("__") or name == "functools":
                continue
            mv = vars(mod).get(name, MISSING)
            if isinstance(fv, types.ModuleType):
                self.expect(mv is fv, "%s: %s should be the module %r" % (phase, name, fv))
                continue
            if not is_definition(fv):
                continue  # data: check_data
            if name.startswith("ct_"):
                continue  # counters: check_counters
            if isinstance(fv, type):
                if not isinstance(mv, type):
                    self.fail("%s: %s is %r, want a class" % (phase, name, mv))
                    continue
                self.compare_classes(phase, name, mv, fv)
            else:
                self.compare_callables(phase, name, mv, fv)
        # 2. names the new version does not define
        for name, spec in old.slots.items():
            if name in new.slots:
                continue
            mv = vars(mod).get(name, MISSING)
            if isinstance(spec, (Func, Klass)):
                self.expect(mv is MISSING, "%s: removed %s is still bound to %r"
                            % (phase, name, mv))
                if isinstance(spec, Func) and spec.kind in ("cl", "ct"):
                    self.expect("make_" + name not in vars(mod),
                                "%s: removed make_%s is still bound" % (phase, name))
        # 3. module dunders follow the new source
        for d in ("__version__", "__all__", "__doc__"):
            self.expect(vars(mod).get(d, MISSING) == vars(fresh).get(d, MISSING),
                        "%s: %s is %r, want %r" % (phase, d, vars(mod).get(d, MISSING),
                                                   vars(fresh).get(d, MISSING)))
        # 4. held references (from the first import of A)
        for h in self.held:
            if not self.survives(h, old, new):
                continue
            self.compare_held(phase, h, fresh)

    def compare_values(self, phase: str, what: str, a, b) -> None:
        if a != b:
            self.fail("%s: %s: got %r, want %r" % (phase, what, a, b))

    def compare_callables(self, phase: str, what: str, got, want, self_pair=None) -> None:
        """Call both with argument sets from ``want``'s signature."""
        if got is MISSING:
            self.fail("%s: %s is missing" % (phase, what))
            return
        if not callable(got):
            self.fail("%s: %s is %r, not callable" % (phase, what, got))
            return
        for a, k in argsets(want, skip_first=self_pair is not None):
            if self_pair is not None:
                ga, wa = (self_pair[0],) + a, (self_pair[1],) + a
            else:
                ga = wa = a
            self.compare_values(phase, "%s(*%r, **%r)" % (what, a, k),
                                outcome(got, *ga, **k), outcome(want, *wa, **k))
        if isinstance(want, types.FunctionType):
            for attr in ("__doc__", "__annotations__"):
                self.compare_values(phase, "%s.%s" % (what, attr),
                                    getattr(got, attr, MISSING), getattr(want, attr, MISSING))

    def compare_classes(self, phase: str, path: str, got: type, want: type) -> None:
        self.compare_values(phase, path + ".__mro__",
                            [k.__qualname__ for k in got.__mro__],
                            [k.__qualname__ for k in want.__mro__])
        self.compare_values(phase, path + ".__doc__", got.__doc__, want.__doc__)
        gdefs = {n for n, v in vars(got).items() if own_definition(got, n, v)}
        wdefs = {n for n, v in vars(want).items() if own_definition(want, n, v)}
        self.compare_values(phase, path + " definitions", sorted(gdefs), sorted(wdefs))
        self.compare_values(phase, path + ".__hash__ is None",
                            vars(got).get("__hash__", MISSING) is None,
                            vars(want).get("__hash__", MISSING) is None)
        for n in sorted(wdefs & gdefs):
            wv, gv = vars(want)[n], vars(got)[n]
            if isinstance(wv, type):
                if isinstance(gv, type):
                    self.compare_classes(phase, path + "." + n, gv, wv)
                else:
                    self.fail("%s: %s.%s is %r, want a class" % (phase, path, n, gv))
            elif isinstance(wv, (classmethod, staticmethod)):
                self.compare_callables(phase, "%s.%s" % (path, n), getattr(got, n),
                                       getattr(want, n))
        if dataclasses.is_dataclass(want):
            self.compare_values(phase, path + " fields",
                                [f.name for f in dataclasses.fields(got)]
                                if dataclasses.is_dataclass(got) else None,
                                [f.name for f in dataclasses.fields(want)])
            self.compare_values(phase, path + ".__match_args__",
                                getattr(got, "__match_args__", MISSING),
                                getattr(want, "__match_args__", MISSING))
        try:
            gis, wis = instances_of(got), instances_of(want)
        except Exception as exc:
            self.fail("%s: instances of %s raised %r" % (phase, path, exc))
            return
        self.compare_values(phase, path + " members", list(gis), list(wis))
        for key, wi in wis.items():
            gi = gis.get(key)
            if gi is None:
                continue
            if isinstance(wi, enum.Enum):
                self.compare_values(phase, "%s.%s.value" % (path, key), gi.value, wi.value)
            else:
                self.compare_values(phase, "vars(%s())" % path, norm(dict(vars(gi))),
                                    norm(dict(vars(wi))))
                if dataclasses.is_dataclass(want):
                    self.compare_values(phase, "repr(%s())" % path,
                                        repr(gi).replace(self.name, "M"),
                                        repr(wi).replace(fresh_name(want), "M"))
            self.compare_instances(phase, "%s.%s" % (path, key), gi, wi)

    def compare_instances(self, phase: str, what: str, got, want) -> None:
        names = {n for n in itertools.chain(dir(got), dir(want)) if MEMBER_RE.match(n)}
        for n in sorted(names):
            wr, gr = mro_raw(type(want), n), mro_raw(type(got), n)
            if not (wr is MISSING or is_definition(wr)) or \
                    not (gr is MISSING or is_definition(gr)):
                continue  # data: check_data
            wv, gv = get(want, n), get(got, n)
            if wv[0] == "ok" and callable(wv[1]) and not isinstance(wv[1], type):
                if gv[0] != "ok":
                    self.fail("%s: %s.%s: got %r, want a callable" % (phase, what, n, gv))
                else:
                    self.compare_callables(phase, "%s.%s" % (what, n), gv[1], wv[1])
            elif wv[0] == "ok" and isinstance(wv[1], type):
                self.compare_values(phase, "%s.%s" % (what, n),
                                    gv[0] == "ok" and isinstance(gv[1], type) and
                                    gv[1].__qualname__, wv[1].__qualname__)
            else:
                self.compare_values(phase, "%s.%s" % (what, n),
                                    (gv[0], norm(gv[1])), (wv[0], norm(wv[1])))
            if isinstance(gr, functools.cached_property):
                vars(got).pop(n, None)  # next phase computes it again
            if isinstance(wr, functools.cached_property):
                vars(want).pop(n, None)
        for op, fn in OPS.items():
            self.compare_values(phase, "%s(%s)" % (op, what), outcome(fn, got),
                                outcome(fn, want))

    def compare_held(self, phase: str, h: Held, fresh: types.ModuleType) -> None:
        what = "held %s %s" % (h.how, h.path)
        if h.how == "suspended":
            return  # check_suspended
        if h.how == "member":
            kept, fcls = resolve(self.mod, h.path), resolve(fresh, h.path)
            self.expect(vars(kept).get(h.extra, MISSING) is h.obj,
                        "%s: Enum member %s.%s is not the same object" % (phase, h.path, h.extra))
            fm = getattr(fcls, h.extra, MISSING)
            if fm is MISSING:
                self.fail("%s: fresh %s has no member %s" % (phase, h.path, h.extra))
            else:
                self.compare_instances(phase, "%s.%s" % (what, h.extra), h.obj, fm)
            return
        parts = h.path.split(".")
        if h.how in ("func", "factory", "class"):
            want = resolve(fresh, h.path)
            if len(parts) == 1:
                self.expect(vars(self.mod).get(h.path, MISSING) is h.obj,
                            "%s: %s is not the module's object any more" % (phase, what))
            else:
                self.expect(resolve(self.mod, h.path) is h.obj,
                            "%s: %s is not the class's object any more" % (phase, what))
            if h.how == "class":
                self.compare_classes(phase, what, h.obj, want)
            elif not h.path.startswith("ct_"):
                self.compare_callables(phase, what, h.obj, want)
            return
        if h.how in ("instance", "sub_instance"):
            self.expect(type(h.obj) is (resolve(self.mod, h.path) if h.how == "instance"
                                        else resolve(self.comp, "Sub_" + h.path)),
                        "%s: %s changed class" % (phase, what))
            self.compare_instances(phase, what, h.obj, resolve(fresh, h.path)())
            return
        owner_path, mname = ".".join(parts[:-1]), parts[-1]
        kept, fcls = resolve(self.mod, owner_path), resolve(fresh, owner_path)
        raw = vars(kept).get(mname, MISSING)
        if h.how == "unbound":
            self.expect(raw is h.obj, "%s: %s is not the class's function any more"
                        % (phase, what))
            if mname.startswith("__"):
                return  # dunders: through the operators
            self.compare_callables(phase, what, h.obj, vars(fcls)[mname],
                                   self_pair=(one_instance(kept), one_instance(fcls)))
        elif h.how == "bound":
            self.compare_callables(phase, what, h.obj, getattr(one_instance(fcls), mname))
        elif h.how == "cm":
            self.expect(isinstance(raw, classmethod) and raw.__func__ is h.obj.__func__,
                        "%s: %s's function is not the class's any more" % (phase, what))
            self.compare_callables(phase, what, h.obj, getattr(fcls, mname))
        elif h.how == "sm":
            self.expect(isinstance(raw, staticmethod) and raw.__func__ is h.obj,
                        "%s: %s is not the class's function any more" % (phase, what))
            self.compare_callables(phase, what, h.obj, getattr(fcls, mname))

    # ---------------------------------------------------- state and policy

    def call_counters(self, old: Version) -> None:
        for h in self.held:
            if h.how == "func" and h.path.startswith("ct_") and \
                    kind_at(old, h.path) == "ct" and vars(self.mod).get(h.path) is h.obj:
                for _ in range(self.model.counter_calls):
                    r = h.obj(1)
                self.counters[h.path] = r[-1]

    def check_suspended(self, label: str) -> None:
        for h in self.held:
            if h.how != "suspended":
                continue
            a, k = h.extra
            want = outcome(lambda: list(vars(self.freshA)[h.path](*a, **k))[1])
            self.compare_values(label, "generator of %s suspended before the reload "
                                "(finishes in the old code)" % h.path,
                                outcome(next, h.obj), want)

    def check_counters(self, label: str, old: Version, new: Version, fresh) -> None:
        for h in self.held:
            if h.how != "func" or not h.path.startswith("ct_") or h.path not in self.counters \
                    or not self.survives(h, old, new):
                continue
            n = self.counters.pop(h.path)
            got = outcome(h.obj, 1)
            base = vars(fresh)[h.path](0)
            want = ("ok", base[:-1] + (n + 1,))
            self.compare_values(label, "held counter %s(1) (nonlocal state kept)" % h.path,
                                got, want)
            # a new counter from the kept factory starts from the new source
            self.compare_values(label, "counter from make_%s" % h.path,
                                outcome(lambda: vars(self.mod)["make_" + h.path](5)(2)),
                                outcome(lambda: vars(fresh)["make_" + h.path](5)(2)))

    def check_fattrs(self, label: str, old: Version, new: Version) -> None:
        for slot, attrs in self.fattrs.items():
            h = Held(slot, "func", None)
            if not self.survives(h, old, new):
                continue
            fn = vars(self.mod)[slot]
            attrs.update(dict(new.slots[slot].attrs))
            for a, v in attrs.items():
                self.compare_values(label, "%s.%s (function attribute)" % (slot, a),
                                    getattr(fn, a, MISSING), v)
            self.expect(getattr(fn, "rt_attr", None) is self.runtime_attr,
                        "%s: %s lost the attribute set at run time" % (label, slot))

    def mutate(self, phase: int) -> None:
        for (ph, scope, name), how in sorted(self.model.mutations.items()):
            if ph != phase or how == "none":
                continue
            target = self.mod if scope == "" else resolve(self.mod, scope)
            if target is MISSING or name not in vars(target):
                continue
            value = vars(target)[name]
            if how == "inplace" and isinstance(value, list):
                value.append(("rt", phase))
            elif how == "inplace" and isinstance(value, dict):
                value["rt"] = phase
            else:
                setattr(target, name, ["runtime", phase, scope, name])

    def data_equal(self, got, want) -> bool:
        """Equal values; instances of generated classes (also inside lists,
        tuples and dicts) must be instances of the kept class."""
        if type(want).__module__.startswith(self.name):  # an instance of a generated class
            kept = resolve(self.mod, type(want).__qualname__)
            return type(got) is kept and norm(dict(vars(got))) == norm(dict(vars(want)))
        if type(want) in (list, tuple):
            return type(got) is type(want) and len(got) == len(want) and \
                all(self.data_equal(g, w) for g, w in zip(got, want))
        if type(want) is dict:
            return type(got) is dict and got.keys() == want.keys() and \
                all(self.data_equal(got[k], want[k]) for k in want)
        return type(got) is type(want) and got == want

    def check_data(self, label, old: Version, new: Version, fresh, pre_mod, pre_comp,
                   pre_cls) -> None:
        self.check_scope(label, "", self.mod, fresh, new.slots, new.optin, pre_mod,
                         pre_comp)
        for path, k in M.classes_of(new):
            if path not in pre_cls:
                continue
            kept = resolve(self.mod, path)
            if not isinstance(kept, type):
                continue
            self.check_scope(label, path, kept, resolve(fresh, path), k.members, k.optin,
                             pre_cls[path], None)

    def check_scope(self, label, path, target, fresh, specs, optin, pre, pre_comp) -> None:
        where = path + "." if path else ""
        opted = (lambda n: True) if optin.how == "all" else (lambda n: n in optin.names)
        now = vars(target)
        for name, v in pre.items():
            if name.startswith("__") or not is_data(v) or name in specs:
                continue
            if name in ("_reload_data", "_reload_all_data") or \
                    (name.startswith("_") and name.endswith("_")):
                continue  # declarations, and Enum's _sunder_ bookkeeping
            # state is never dropped: data the new source does not bind stays
            self.expect(now.get(name, MISSING) is v, "%s: data %s%s was %r, now %r (should stay)"
                        % (label, where, name, v, now.get(name, MISSING)))
        for name, spec in specs.items():
            if not isinstance(spec, Data):
                continue
            got = now.get(name, MISSING)
            want = vars(fresh)[name]
            old = pre.get(name, MISSING)
            if old is not MISSING and is_data(old) and not opted(name):
                self.expect(got is old, "%s: data %s%s should keep its runtime value %r, got %r"
                            % (label, where, name, old, got))
            else:
                self.expect(self.data_equal(got, want),
                            "%s: data %s%s should be the new value %r, got %r"
                            % (label, where, name, want, got))
            if pre_comp is None or old is MISSING or not is_data(old) or name not in pre_comp:
                continue
            copied = pre_comp[name]
            rebound = opted(name) and copied is old and \
                not any(old is s for s in SINGLETONS)
            want_copy = now.get(name) if rebound else copied
            self.expect(vars(self.comp).get(name, MISSING) is want_copy,
                        "%s: the copy of %s in another module is %r, want %r (%s)"
                        % (label, name, vars(self.comp).get(name, MISSING), want_copy,
                           "rebound" if rebound else "unchanged"))

    def check_report(self, label, old: Version, new: Version, fresh, report, pre_mod,
                     pre_cls) -> None:
        m = self.name
        self.compare_values(label, "report.modules", report.modules, (m,))
        self.compare_values(label, "report.restart_required", report.restart_required, ())
        self.compare_values(label, "report.errors", report.errors, ())
        updated, removed, added = set(report.updated), set(report.removed), set(report.added)
        replaced = set(report.data_replaced)
        want_updated: Set[str] = set()
        want_removed: Set[str] = set()
        want_added: Set[str] = set()
        want_replaced: Set[str] = set()
        for name in ("deco_plain", "deco_wraps", "deco_args"):
            want_updated.add("%s.%s" % (m, name))
        for name in set(old.slots) | set(new.slots):
            ko, kn = kind_at(old, name), kind_at(new, name)
            qn = "%s.%s" % (m, name)
            if name not in pre_mod and kn is not None:
                want_added.add(qn)
                if kn in ("cl", "ct"):
                    want_added.add("%s.make_%s" % (m, name))
            if ko is not None and ko == kn and ko != "data":
                if ko in LISTED_TOP or (ko == "class" and class_changed(
                        old.slots[name], new.slots[name])):
                    want_updated.add(qn)
                if ko in ("cl", "ct"):
                    want_updated.add("%s.make_%s" % (m, name))
            if ko is not None and kn is None and ko != "data":
                if ko in LISTED_TOP or ko == "class":
                    want_removed.add(qn)
                if ko in ("cl", "ct"):
                    want_removed.add("%s.make_%s" % (m, name))
            if ko is not None and kn is not None and (ko == "data") != (kn == "data"):
                want_removed.add(qn)   # changes kind
                want_added.add(qn)
        may_replace: Set[str] = set()  # opted in, but the new value is the old object
        for name, spec in new.slots.items():
            if isinstance(spec, Data) and name in pre_mod and is_data(pre_mod[name]):
                if new.optin.how == "all" or name in new.optin.names:
                    same = vars(self.mod).get(name) is pre_mod[name]
                    (may_replace if same else want_replaced).add("%s.%s" % (m, name))
        for path, k in M.classes_of(new):
            if path not in pre_cls:
                continue
            ok = M.class_at(old, path)
            for mname in set(k.members) | set(ok.members if ok else ()) | {"who"}:
                p = path + "." + mname
                ko, kn = kind_at(old, p), kind_at(new, p)
                qn = "%s.%s" % (m, p)
                if mname not in pre_cls[path] and kn is not None and kn != "lam":
                    want_added.add(qn)
                listed = LISTED_MEMBER + ("class", "who")
                if ko is not None and ko == kn and ko in listed:
                    if ko != "class" or class_changed(ok.members[mname], k.members[mname]):
                        want_updated.add(qn)
                if ko in listed and kn is None and mname != "__hash__":
                    # (a class that keeps __eq__ binds __hash__ to None)
                    want_removed.add(qn)
                if kn == "data" and mname in pre_cls[path] and \
                        (k.optin.how == "all" or mname in k.optin.names):
                    same = vars(resolve(self.mod, path)).get(mname) is pre_cls[path][mname]
                    (may_replace if same else want_replaced).add(qn)
        for field, got, want in (("updated", updated, want_updated),
                                 ("removed", removed, want_removed),
                                 ("added", added, want_added)):
            missing = sorted(want - got)
            if missing:
                self.fail("%s: report.%s lacks %s (has %s)" % (label, field, missing, sorted(got)))
        for path, k in [("", None)] + list(M.classes_of(new)):
            decl = (new.optin if k is None else k.optin).spelling
            if decl.startswith("_reload"):  # the declaration is data too
                may_replace.add("%s.%s" % (m, (path + "." if path else "") + decl))
        if not want_replaced <= replaced <= want_replaced | may_replace:
            self.fail("%s: report.data_replaced is %s, want %s (and maybe %s)"
                      % (label, sorted(replaced), sorted(want_replaced), sorted(may_replace)))
        survivors = {q for q in want_updated}
        wrong = sorted(survivors & removed)
        if wrong:
            self.fail("%s: report.removed lists kept definitions %s" % (label, wrong))
