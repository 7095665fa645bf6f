"""Profile reloads of B1's module (or B2's package, --package) outside the harness.

    python bench/prof_reload.py [--F 2000 --C 200 --M 10] [--no-defaults]
                            [--package N (modules of 50 functions)]
                            [--mode compiled|edit|floor-exec|floor-compile]
                            [--reloads N] [--cprofile]

Meant for `valgrind --tool=callgrind --toggle-collect=functools_reduce`
(instruction counts of the timed call alone, repeatable where timings on a
shared machine are not; set PYTHONHASHSEED=0) and for cProfile (--cprofile).
"""
import argparse
import cProfile
import functools
import os
import pstats
import sys
import tempfile
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import reloader  # noqa: E402
from reloader import _api, _stamps  # noqa: E402

import gen  # noqa: E402

ap = argparse.ArgumentParser()
ap.add_argument("--F", type=int, default=2000)
ap.add_argument("--C", type=int, default=200)
ap.add_argument("--M", type=int, default=10)
ap.add_argument("--no-defaults", action="store_true")
ap.add_argument("--package", type=int, default=0)
ap.add_argument("--mode", choices=["compiled", "edit", "floor-exec", "floor-compile"],
                default="compiled")
ap.add_argument("--reloads", type=int, default=5)
ap.add_argument("--cprofile", action="store_true")
args = ap.parse_args()

root = tempfile.mkdtemp()
sys.path.insert(0, root)
defaults = not args.no_defaults
if args.package:
    os.mkdir(os.path.join(root, "ppkg"))
    open(os.path.join(root, "ppkg", "__init__.py"), "w").close()
    names = ["ppkg.m%03d" % i for i in range(args.package)]
    paths = [os.path.join(root, "ppkg", "m%03d.py" % i) for i in range(args.package)]

    def source(k, r):
        return gen.b2_module(k, 50, r)
else:
    names = ["pmod"]
    paths = [os.path.join(root, "pmod.py")]

    def source(k, r):
        return gen.b1_module(args.F, args.C, args.M, defaults, r)
for k, path in enumerate(paths):
    with open(path, "w") as fh:
        fh.write(source(k, 0))
for name in names:
    __import__(name)

srcs = [[source(k, r) for k in range(len(paths))] for r in range(1, args.reloads + 1)]
codes = [[compile(s.encode(), p, "exec", dont_inherit=True) for s, p in zip(ss, paths)]
         for ss in srcs]


def one(i):
    for k, path in enumerate(paths):
        with open(path, "w") as fh:
            fh.write(srcs[i][k])
        if args.mode == "compiled":
            data = srcs[i][k].encode()
            _api.precompiled(path, _stamps.digest(data), codes[i][k], data)
            # the reload alone holds it now, as when the watcher offers code:
            # what the batch does not use is freed on reloader's reaper
            # thread (not counted here) or, for a small tree, in the call
            codes[i][k] = None
    keep.clear()  # the floors' last namespace is dropped outside the timing
    t0 = time.perf_counter()
    # functools.reduce is only the bracket: run callgrind with
    # --toggle-collect=functools_reduce to count the reload alone
    functools.reduce(ACTIONS[args.mode], [i], None)
    return time.perf_counter() - t0


keep = []


def _floor_exec(_, i):
    for code in codes[i]:
        ns = {"__name__": "x"}
        exec(code, ns)
        keep.append(ns)


def _floor_compile(_, i):
    for path in paths:
        ns = {"__name__": "x"}
        with open(path, "rb") as fh:
            exec(compile(fh.read(), path, "exec", dont_inherit=True), ns)
        keep.append(ns)


ACTIONS = {"compiled": lambda _, i: reloader.reload(names),
           "edit": lambda _, i: reloader.reload(names),
           "floor-exec": _floor_exec, "floor-compile": _floor_compile}


one(0)  # warm up
if args.cprofile:
    pr = cProfile.Profile()
    pr.enable()
    for i in range(1, args.reloads):
        one(i)
    pr.disable()
    pstats.Stats(pr).sort_stats("tottime").print_stats(18)
else:
    ts = [one(i) for i in range(1, args.reloads)]
    print("%s: median %.2f ms" % (args.mode, sorted(ts)[len(ts) // 2] * 1e3))
