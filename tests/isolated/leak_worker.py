"""Reload one big module many times, alternating two versions, and measure.

    python leak_worker.py [--funcs N] [--reloads R] [--every K] [--traced T]

Run in its own process by tests/test_leaks.py (and by hand). The module has
N functions of every shape (plain, defaults and keyword-only, closures whose
free-variable count differs between the versions, functools.wraps
decorators, generators, lambdas) and N/10 classes with methods,
classmethods, staticmethods, properties, dunders and class data, plus module
data; every function, class, instance and bound method of the first import
is held for the whole run. After each reload a sample of the held references
must return the new version's values. Every K reloads, after gc.collect(),
it records the number of live code objects that ever belonged to the module
(through weak references), of live functions and classes the module defined,
of cells, and sys.getallocatedblocks(). Then it starts tracemalloc (which
slows reloads about tenfold) and does T more reloads, recording the traced
size after every second one (same version each time).

Prints one JSON object: {"samples": [...], "traced": [...], ...}.
"""

from __future__ import annotations

import argparse
import gc
import importlib
import json
import os
import sys
import tempfile
import time
import tracemalloc
import types
import weakref

import reloader


def source(tag: str, nfuncs: int) -> str:
    """One version of the module; ``tag`` is "A" or "B"."""
    b = tag == "B"
    out = ["import functools", "",
           "def deco(fn):",
           "    @functools.wraps(fn)",
           "    def wrapper(*a, **k):",
           "        return (%r, fn(*a, **k))" % tag,
           "    return wrapper", ""]
    for i in range(nfuncs):
        kind = i % 6
        if kind == 0:
            out += ["def f%d(a, b=%d, *, c=%r):" % (i, i if b else -i, tag),
                    "    return (%r, %d, a, b, c)" % (tag, i)]
        elif kind == 1:
            # free variables: one in A, three in B
            free = "k1, k2, k3" if b else "k1"
            out += ["def make%d(k1, k2=2, k3=3):" % i,
                    "    def f%d(x):" % i,
                    "        return (%r, %d, x, %s)" % (tag, i, free),
                    "    return f%d" % i,
                    "f%d = make%d(%d)" % (i, i, i)]
        elif kind == 2:
            out += ["@deco",
                    "def f%d(x=0):" % i,
                    "    return (%r, %d, x)" % (tag, i)]
        elif kind == 3:
            out += ["def f%d(n=2):" % i,
                    "    for j in range(n):",
                    "        yield (%r, %d, j)" % (tag, i)]
        elif kind == 4:
            out += ["f%d = lambda x=0: (%r, %d, x)" % (i, tag, i)]
        else:
            out += ["def f%d(*args, **kw):" % i,
                    "    try:",
                    "        return (%r, %d, args, sorted(kw))" % (tag, i),
                    "    except TypeError:",
                    "        return None"]
    for i in range(max(1, nfuncs // 10)):
        out += ["class C%d:" % i,
                "    __reload_data__ = {'SPEED'}",
                "    SPEED = %d" % (i + (1000 if b else 0)),
                "    COUNT = 0",
                "    def __init__(self):",
                "        self.state = [%d]" % i,
                "    def m(self, x=1):",
                "        return (%r, %d, x)" % (tag, i),
                "    def n(self):",
                "        return super().__repr__() and %r" % tag,
                "    @classmethod",
                "    def cm(cls):",
                "        return (%r, cls.__name__)" % tag,
                "    @staticmethod",
                "    def sm():",
                "        return %r" % tag,
                "    @property",
                "    def p(self):",
                "        return %r" % tag,
                "    def __eq__(self, other):",
                "        return self is other",
                "    def __hash__(self):",
                "        return %d" % i,
                "    def __repr__(self):",
                "        return %r" % ("C%d-%s" % (i, tag)),
                ]
        if b:
            out += ["    def extra(self):", "        return 'only in B'"]
    out += ["TABLE = {'a': 1}", "__reload_data__ = {'LIMIT'}",
            "LIMIT = %d" % (2 if b else 1), "STATE = []", ""]
    return "\n".join(out) + "\n"


def settle() -> None:
    """Let the reaper free the retired code trees first: a sample taken while
    it lags behind (a loaded machine) would count them as growth."""
    from reloader import _api
    if not _api._reaper.wait_idle(timeout=30):
        raise SystemExit("the reaper did not finish in 30 s")


def code_objects(module: types.ModuleType):
    """Every code object reachable from the module's functions and methods."""
    seen = []

    def add(code):
        seen.append(code)
        for c in code.co_consts:
            if isinstance(c, types.CodeType):
                add(c)

    def visit(obj):
        if isinstance(obj, types.FunctionType):
            add(obj.__code__)
            for cell in obj.__closure__ or ():
                try:
                    v = cell.cell_contents
                except ValueError:
                    continue
                if isinstance(v, types.FunctionType):
                    add(v.__code__)
        elif isinstance(obj, (classmethod, staticmethod)):
            visit(obj.__func__)
        elif isinstance(obj, property):
            visit(obj.fget)
        elif isinstance(obj, type):
            for v in list(vars(obj).values()):
                visit(v)

    for v in list(vars(module).values()):
        visit(v)
    return seen


def count_defined(name: str):
    """Live functions, classes, cells and dicts (all of them), after gc."""
    funcs = classes = cells = 0
    for o in gc.get_objects():
        t = type(o)
        if t is types.FunctionType:
            if o.__module__ == name:
                funcs += 1
        elif isinstance(o, type):
            if getattr(o, "__module__", None) == name:
                classes += 1
        elif t is types.CellType:
            cells += 1
    return funcs, classes, cells


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--funcs", type=int, default=3000)
    ap.add_argument("--reloads", type=int, default=300)
    ap.add_argument("--every", type=int, default=20)
    ap.add_argument("--traced", type=int, default=20)
    args = ap.parse_args(argv)

    root = tempfile.mkdtemp(prefix="rl-leak-")
    sys.path.insert(0, root)
    sys.dont_write_bytecode = True
    name = "rl_leak_big"
    path = os.path.join(root, name + ".py")
    srcs = {t: source(t, args.funcs) for t in "AB"}
    with open(path, "w") as fh:
        fh.write(srcs["A"])
    importlib.invalidate_caches()
    mod = importlib.import_module(name)

    # hold everything of the first import
    held_funcs = [getattr(mod, "f%d" % i) for i in range(args.funcs)]
    classes = [getattr(mod, "C%d" % i) for i in range(max(1, args.funcs // 10))]
    instances = [c() for c in classes]
    bound = [(i.m, i.n, type(i).cm, type(i).sm) for i in instances]

    codes: "weakref.WeakSet[types.CodeType]" = weakref.WeakSet()
    for c in code_objects(mod):
        codes.add(c)

    samples = []
    traced = []
    started = time.perf_counter()
    reload_time = 0.0
    total = args.reloads + args.traced
    for n in range(1, total + 1):
        if n == args.reloads + 1 and args.traced:
            settle()
            gc.collect()
            tracemalloc.start(1)
        tag = "B" if n % 2 else "A"
        with open(path, "w") as fh:
            fh.write(srcs[tag])
        t0 = time.perf_counter()
        report = reloader.reload(name)
        reload_time += time.perf_counter() - t0
        if report.restart_required or report.errors:
            raise SystemExit("unexpected report: %r" % (report,))
        # the held references run the new code (a sample of them)
        for i in range(0, args.funcs, 97):
            r = held_funcs[i]() if i % 6 in (2, 3, 4, 5) else held_funcs[i](1)
            if i % 6 == 3:
                r = list(r)[0]
            flat = r if isinstance(r, tuple) else (r,)
            if tag not in (flat[0], flat[1] if len(flat) > 1 else None):
                raise SystemExit("reload %d: f%d returned %r, want %s" % (n, i, r, tag))
        for inst, (m, nn, cm, sm) in zip(instances[::7], bound[::7]):
            if m()[0] != tag or nn() != tag or cm()[0] != tag or sm() != tag or inst.p != tag:
                raise SystemExit("reload %d: methods of %r do not run %s" % (n, inst, tag))
        for c in code_objects(mod):
            codes.add(c)
        if n > args.reloads:
            if n % 2 == 0:
                settle()
                gc.collect()
                traced.append(tracemalloc.get_traced_memory()[0])
            continue
        if n % args.every == 0 or n == args.reloads:
            settle()
            gc.collect()
            gc.collect()
            funcs, ncls, cells = count_defined(name)
            samples.append({"reload": n, "codes": len(codes), "functions": funcs,
                            "classes": ncls, "cells": cells,
                            "blocks": sys.getallocatedblocks()})
    print(json.dumps({"funcs": args.funcs, "reloads": args.reloads, "every": args.every,
                      "seconds": time.perf_counter() - started,
                      "reload_seconds": reload_time,
                      "python": sys.version.split()[0],
                      "samples": samples, "traced": traced}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
