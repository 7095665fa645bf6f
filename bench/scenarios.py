"""One benchmark scenario per process.

    python scenarios.py NAME PARAMS_JSON OUT_JSON

The driver (driver.py) starts this with the reloader's virtual environment;
BENCH_PEERS_SITE names the peers' site-packages (added with site.addsitedir,
after reloader is imported, as a program would) and BENCH_FLOORWALK the
directory of the bare-walk probe extension.

Adapters take turns round by round (the order rotates every round); every
round writes new content first and checks, outside the timing, that the new
code runs. Times are nanoseconds; the driver computes medians and ratios.
"""

from __future__ import annotations

import gc
import importlib
import itertools
import json
import os
import platform
import shutil
import site
import subprocess
import sys
import tempfile
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.dont_write_bytecode = True  # every reloader reads the source: no stale pyc can win

import adapters as A  # noqa: E402
import gen  # noqa: E402

try:  # as a program would: reloader first, then everything else
    import reloader  # noqa: F401
    from reloader import _core as _rl_core
except Exception:  # noqa: BLE001 - the driver reports it as unavailable
    reloader = None
    _rl_core = None

if os.environ.get("BENCH_PEERS_SITE"):
    site.addsitedir(os.environ["BENCH_PEERS_SITE"])

# Timings are the calling thread's CPU time: on a shared 2-core machine the
# wall clock also counts the time other processes had the core. Every timed
# call here is synchronous, except Watcher.poll() in B6, which is timed on
# the wall clock as well, and one piece of work reloader leaves behind: the
# new code a batch did not use is freed by its reaper thread after the call
# returns (reloader/_reap.py). settle() waits for that before anything is
# timed, so it never overlaps a measurement, and the reaper's CPU time is
# shown beside reloader's figures.
now = time.thread_time_ns
wall = time.perf_counter_ns


def settle():
    """Wait until reloader's reaper has freed what the last batch left."""
    if reloader is not None:
        from reloader import _api
        if not _api._reaper.wait_idle(60):
            raise RuntimeError("reloader's reaper did not finish in 60 s")


def reaper_busy_ns():
    """CPU time reloader's reaper thread has used so far."""
    if reloader is None:
        return 0
    from reloader import _api
    return int(_api._reaper.busy_s * 1e9)


# ===========================================================================
# helpers
# ===========================================================================

def write(path, text):
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(text)


def rotate(seq, r):
    k = r % len(seq) if seq else 0
    return seq[k:] + seq[:k]


def err_text(exc):
    msg = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return ("%s: %s" % (type(exc).__name__, msg))[:200]


def env_info():
    return {
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "machine": platform.machine(),
        "reloader": getattr(reloader, "__version__", None),
    }


def paired_rounds(adapters, copies, write_round, verify, rounds, budget_s=60.0):
    """Run every adapter once per round, in a rotating order.

    write_round(targets, r) writes round r's content; verify(adapter, nss,
    targets, r) returns a dict of bool checks, "new_code" being required.
    An adapter that raises or gives a wrong result is dropped (shown as
    such); one that has used more than budget_s seconds of timed work sits
    out the remaining rounds.
    """
    res = {}
    for a in adapters:
        res[a.name] = {"kind": a.kind, "times": [None] * rounds, "wall": [None] * rounds,
                       "status": "ok",
                       "error": None, "checks": {}, "note": ""}
    active = list(adapters)
    spent = {a.name: 0.0 for a in adapters}
    for r in range(1, rounds + 1):
        for a in rotate(active, r):
            rec = res[a.name]
            if rec["status"] != "ok" or spent[a.name] > budget_s:
                continue
            targets = copies[a.name]
            write_round(targets, r)
            try:
                a.prepare(targets)
                settle()
                gc.collect()
                w0 = wall()
                t0 = now()
                nss = a.run(targets)
                t1 = now()
                w1 = wall()
            except Exception as exc:  # noqa: BLE001 - a peer crashed: show it
                rec["status"] = "crash"
                rec["error"] = err_text(exc)
                rec["traceback"] = traceback.format_exc()[-2000:]
                continue
            spent[a.name] += (w1 - w0) / 1e9  # the budget bounds the real run time
            try:
                chk = verify(a, nss, targets, r)
            except Exception as exc:  # noqa: BLE001
                chk = {"new_code": False}
                rec["error"] = "check raised " + err_text(exc)
            rec["checks"] = chk
            if not chk.get("new_code"):
                rec["status"] = "wrong result"
                rec["error"] = rec["error"] or "the new code does not run after the reload"
                continue
            rec["times"][r - 1] = t1 - t0
            rec["wall"][r - 1] = w1 - w0
    for a in adapters:
        res[a.name]["note"] = a.note()
        res[a.name]["rounds"] = sum(t is not None for t in res[a.name]["times"])
        if spent[a.name] > budget_s and res[a.name]["status"] == "ok":
            extra = "time budget: %d of %d rounds" % (res[a.name]["rounds"], rounds)
            res[a.name]["note"] = "; ".join(x for x in (res[a.name]["note"], extra) if x)
    return res


def setup_copies(adapter_list, root, make_targets):
    """Write version 0 of each adapter's copy, import it, capture references.
    Returns (ready adapters, copies, refs, missing)."""
    copies, refs, missing, ready = {}, {}, {}, []
    for a in adapter_list:
        copies[a.name] = make_targets(a)
    for a in adapter_list:
        try:
            a.setup(root, copies[a.name])
            if a.imports:
                mods = [importlib.import_module(name) for name, _ in copies[a.name]]
            else:
                mods = []
            a.imported(copies[a.name])
        except Exception as exc:  # noqa: BLE001
            missing[a.name] = "setup failed: " + err_text(exc)
            continue
        refs[a.name] = mods
        ready.append(a)
    return ready, copies, refs, missing


def scratch(prefix):
    root = tempfile.mkdtemp(prefix="reloader-bench-%s-" % prefix)
    sys.path.insert(0, root)
    importlib.invalidate_caches()
    return root


# ===========================================================================
# B1 latency: one function body edited in a big module
# ===========================================================================

def b1(p):
    F, C, M, defaults, rounds = p["F"], p["C"], p["M"], p["defaults"], p["rounds"]
    names = p.get("adapters") or [c.name for c in A.ALL]
    adapter_list, missing = A.available([A.BY_NAME[n] for n in names])
    root = scratch("b1")
    tname = gen.b1_target(F)
    sources = {}

    def source(r):
        if r not in sources:
            sources.clear()
            sources[r] = gen.b1_module(F, C, M, defaults, r)
        return sources[r]

    def make_targets(a):
        name = "b1_%s" % A.SLUG[a.name]
        path = os.path.join(root, name + ".py")
        write(path, source(0))
        return [(name, path)]

    ready, copies, mods, miss2 = setup_copies(adapter_list, root, make_targets)
    missing.update(miss2)
    refs = {}
    for a in ready:
        if mods[a.name]:
            m = mods[a.name][0]
            refs[a.name] = (getattr(m, tname), m.C_0, m.C_0.__dict__["m_1"], m.C_0(5))

    def write_round(targets, r):
        for _, path in targets:
            write(path, source(r))

    def verify(a, nss, targets, r):
        ns = nss[0]
        want = 1 + 0 + 1000 * r
        chk = {"new_code": ns[tname](1, 0, "q") == want}
        if a.name in refs:
            f, cls, meth, inst = refs[a.name]
            chk["old_refs"] = f(1, 0, "q") == want
            chk["identity"] = (ns[tname] is f and ns["C_0"] is cls
                               and ns["C_0"].__dict__["m_1"] is meth)
            chk["instance_ok"] = isinstance(inst, ns["C_0"]) and inst.m_1(1) == 5 + 1 + 0
        return chk

    res = paired_rounds(ready, copies, write_round, verify, rounds, p.get("budget_s", 60.0))
    ncallables = F + C * M
    return {"results": res, "missing": missing, "ncallables": ncallables,
            "nclasses": C, "module_bytes": len(source(rounds).encode())}


# ===========================================================================
# B2 batch: a package of 100 modules x 50 functions, all edited
# ===========================================================================

def b2(p):
    nmods, nfuncs, rounds = p["modules"], p["functions"], p["rounds"]
    names = p.get("adapters") or [c.name for c in A.ALL]
    adapter_list, missing = A.available([A.BY_NAME[n] for n in names])
    root = scratch("b2")
    target = "f_%d" % (nfuncs // 2)
    cache = {}

    def source(i, r):
        key = (i, r)
        if key not in cache:
            if len(cache) > 4 * nmods:
                cache.clear()
            cache[key] = gen.b2_module(i, nfuncs, r)
        return cache[key]

    def make_targets(a):
        pkg = "b2_%s" % A.SLUG[a.name]
        d = os.path.join(root, pkg)
        os.makedirs(d, exist_ok=True)
        write(os.path.join(d, "__init__.py"), '"""B2 package."""\n')
        out = []
        for i in range(nmods):
            path = os.path.join(d, "m%03d.py" % i)
            write(path, source(i, 0))
            out.append(("%s.m%03d" % (pkg, i), path))
        return out

    ready, copies, mods, miss2 = setup_copies(adapter_list, root, make_targets)
    missing.update(miss2)
    refs = {a.name: [getattr(m, target) for m in mods[a.name]] for a in ready if mods[a.name]}

    def write_round(targets, r):
        for i, (_, path) in enumerate(targets):
            write(path, source(i, r))

    def verify(a, nss, targets, r):
        want = 1 + 0 + 1000 * r
        chk = {"new_code": all(ns[target](1, 0) == want for ns in nss)}
        if a.name in refs:
            chk["old_refs"] = all(f(1, 0) == want for f in refs[a.name])
            chk["identity"] = all(ns[target] is f for ns, f in zip(nss, refs[a.name]))
        return chk

    res = paired_rounds(ready, copies, write_round, verify, rounds, p.get("budget_s", 60.0))
    return {"results": res, "missing": missing, "ncallables": nmods * nfuncs}


# ===========================================================================
# B3 instance walk
# ===========================================================================

class Blob:
    """Filler object of the heap (and subclasses, so that types vary)."""

    def __init__(self, i):
        self.i = i


BLOBS = [Blob] + [type("Blob%d" % k, (Blob,), {}) for k in range(1, 10)]


def build_heap(filler, instance_makers):
    """About `filler` tracked filler objects (lists and instances of ten
    classes, interleaved) with the instances made by `instance_makers`
    (callables) spread evenly among them, in allocation (= GC list) order."""
    heap, made = [], []
    n = len(instance_makers)
    step = max(1, filler // max(1, n))
    j = 0
    for i in range(filler):
        if i % 2:
            heap.append(BLOBS[(i >> 1) % 10](i))
        else:
            heap.append([i])
        if j < n and i % step == 0:
            made.append(instance_makers[j]())
            j += 1
    while j < n:
        made.append(instance_makers[j]())
        j += 1
    return heap, made


def _floorwalk():
    d = os.environ.get("BENCH_FLOORWALK")
    if not d:
        return None
    sys.path.insert(0, d)
    try:
        import _floorwalk
        return _floorwalk
    except ImportError:
        return None
    finally:
        sys.path.remove(d)


def b3(p):
    nclasses, per, heap_target, rounds = p["classes"], p["per_class"], p["heap"], p["rounds"]
    out = {"missing": {}}
    if _rl_core is None:
        return {"missing": {"reloader": "not importable"}, "results": {}}
    fw = _floorwalk()
    root = scratch("b3")
    write(os.path.join(root, "b3_hook.py"), gen.b3_module(nclasses, True, 0))
    write(os.path.join(root, "b3_plain.py"), gen.b3_module(nclasses, False, 0))
    import b3_hook
    import b3_plain
    classes_hook = tuple(getattr(b3_hook, "K_%d" % c) for c in range(nclasses))

    # -- whole reloads: reloader on the plain and the hooked module, the
    # peers on copies of the plain one; floors on the plain module's source
    def reload_phase(label, adapter_list, nrounds, hooked_instances):
        copies = {}
        for a in adapter_list:
            if a.kind == "reloader" and a.name.endswith("[hooks]"):
                copies[a.name] = [("b3_hook", b3_hook.__file__)]
            elif a.kind == "reloader":
                copies[a.name] = [("b3_plain", b3_plain.__file__)]
            elif a.kind == "floor":
                copies[a.name] = [(b3_plain.__name__ + "_" + A.SLUG[a.name],
                                   os.path.join(root, "b3_floor_%s.py" % A.SLUG[a.name]))]
            else:
                copies[a.name] = peer_copies[a.name]
        def write_round(targets, r):
            for name, path in targets:
                write(path, gen.b3_module(nclasses, name == "b3_hook", r + 1000 * phase_no[0]))

        def verify(a, nss, targets, r):
            tag = r + 1000 * phase_no[0]
            ns = nss[0]
            chk = {"new_code": ns["K_0"]().tag() == tag}
            if targets[0][0] == "b3_hook":
                hook_calls["n"] += 1
                seen = sum(o.seen for o in hooked_instances)
                chk["hooks_ran"] = seen == len(hooked_instances) * hook_calls["n"]
                chk["new_code"] = chk["new_code"] and chk["hooks_ran"]
            return chk

        res = paired_rounds(adapter_list, copies, write_round, verify, nrounds, 60.0)
        phase_no[0] += 1
        return res

    phase_no = [1]
    hook_calls = {"n": 0}  # reloads of b3_hook so far: each instance's `seen`

    class HookedReloader(A.Reloader):
        name = "reloader [hooks]"

    class PlainReloader(A.Reloader):
        name = "reloader [no hooks]"

    peer_names = p.get("peers") or []
    peer_list, missing = A.available([A.BY_NAME[n] for n in peer_names])
    out["missing"].update(missing)
    peer_copies = {}
    ready_peers = []
    for a in peer_list:
        name = "b3_plain_%s" % A.SLUG[a.name]
        path = os.path.join(root, name + ".py")
        write(path, gen.b3_module(nclasses, False, 0))
        peer_copies[a.name] = [(name, path)]
        try:
            a.setup(root, peer_copies[a.name])
            if a.imports:
                importlib.import_module(name)
            a.imported(peer_copies[a.name])
        except Exception as exc:  # noqa: BLE001
            out["missing"][a.name] = "setup failed: " + err_text(exc)
            continue
        ready_peers.append(a)

    # instances: per_class of every class of every reloaded module; made
    # with the heap below, but the small-heap phase needs the hooked ones
    def makers(mod):
        cls = [getattr(mod, "K_%d" % c) for c in range(nclasses)]
        return [cls[k % nclasses] for k in range(nclasses * per)]

    hooked_instances = [c() for c in makers(b3_hook)]

    floors = [A.FloorCompile(), A.FloorExec()]
    small = reload_phase("small heap", [PlainReloader(), HookedReloader()] + floors,
                         rounds, hooked_instances)
    gc.collect()
    small_objects = len(gc.get_objects())

    # -- the heap: ~heap_target tracked objects, the instances spread in it
    others = makers(b3_plain)
    for a in ready_peers:
        others += makers(sys.modules[peer_copies[a.name][0][0]])
    filler = max(0, heap_target - small_objects - len(others) - len(hooked_instances))
    # the hooked instances of the small phase are re-made inside the heap
    hook_calls["n"] = 0
    del hooked_instances[:]
    groups = [makers(b3_hook), others]
    mixed = [m for pair in itertools.zip_longest(*groups) for m in pair if m is not None]
    heap, made = build_heap(filler, mixed)
    hooked_instances[:] = [o for o in made if type(o).__module__ == "b3_hook"]
    gc.collect()
    tracked = len(gc.get_objects())

    # -- finders, one round each in a rotating order
    expected = {id(o) for o in hooked_instances}
    cset = set(classes_hook)

    def f_reloader():
        return _rl_core.find_instances(classes_hook)

    def f_python_pass():
        return [o for o in gc.get_objects() if type(o) in cset]

    def f_get_objects():
        return gc.get_objects()

    def f_referrers():
        found = []
        for c in classes_hook:
            found.extend(o for o in gc.get_referrers(c) if type(o) is c)
        return found

    def f_referrers_once():
        return [o for o in gc.get_referrers(*classes_hook) if type(o) in cset]

    finders = [("reloader find_instances", f_reloader, True),
               ("one Python pass over gc.get_objects()", f_python_pass, True),
               ("gc.get_objects() alone", f_get_objects, False),
               ("gc.get_referrers per class (x%d)" % nclasses, f_referrers, True),
               ("gc.get_referrers(*classes), one call", f_referrers_once, True)]
    if fw is not None:
        finders.append(("bare walk (C, PyUnstable_GC_VisitObjects, no-op)",
                        lambda: fw.walk(), False))
        finders.append(("C walk + exact type test (probe)",
                        lambda: fw.find_exact(classes_hook), True))
    else:
        out["missing"]["bare walk"] = "probe extension not built"
    fres = {name: {"times": [None] * rounds, "status": "ok", "error": None, "kind": "finder"}
            for name, _, _ in finders}
    for r in range(1, rounds + 1):
        for name, fn, checked in rotate(finders, r):
            rec = fres[name]
            if rec["status"] != "ok":
                continue
            settle()
            gc.collect()
            try:
                t0 = now()
                got = fn()
                t1 = now()
            except Exception as exc:  # noqa: BLE001
                rec["status"], rec["error"] = "crash", err_text(exc)
                continue
            if checked:
                ids = {id(o) for o in got}
                if ids != expected:
                    rec["status"] = "wrong result"
                    rec["error"] = "found %d objects, %d expected, %d of them right" % (
                        len(ids), len(expected), len(ids & expected))
            elif name.startswith("bare walk"):
                rec["count"] = got
            del got
            rec["times"][r - 1] = t1 - t0

    big = reload_phase("big heap",
                       [PlainReloader(), HookedReloader()] + floors + ready_peers,
                       rounds, hooked_instances)
    del heap
    out.update({"results": {"small": small, "finders": fres, "big": big},
                "tracked_objects": tracked, "small_heap_objects": small_objects,
                "instances": len(hooked_instances), "classes": nclasses})
    del made
    return out


# ===========================================================================
# B4 steady state
# ===========================================================================

def b4(p):
    if reloader is None:
        return {"missing": {"reloader": "not importable"}, "results": {}}
    many, rounds, n = p["reloads"], p["rounds"], p["iterations"]
    root = scratch("b4")
    tags = ["a", "b", "c"]  # a: never reloaded; b: once; c: `many` times
    for t in tags:
        write(os.path.join(root, "b4_%s.py" % t), gen.b4_module(1))
    write(os.path.join(root, "b4_caller.py"), gen.b4_caller(tags))
    import b4_caller
    mods = {t: sys.modules["b4_%s" % t] for t in tags}
    objs = {t: mods[t].K() for t in tags}
    kinds = {
        "function call f(i)": lambda t: (getattr(b4_caller, "call_" + t), ()),
        "instance attribute o.v": lambda t: (getattr(b4_caller, "attr_" + t), (objs[t],)),
        "method call o.m()": lambda t: (getattr(b4_caller, "meth_" + t), (objs[t],)),
        "class attribute K.CONST": lambda t: (getattr(b4_caller, "cls_" + t), ()),
    }

    count = p.get("count")  # under callgrind: one bracketed run per site
    labels = []

    def measure(nrounds, which):
        times = {(k, t): [] for k in kinds for t in which}
        plan = [(k, t) for k in kinds for t in which]
        if count:
            import functools
            for k, t in plan:
                fn, args = kinds[k](t)
                fn(2000, *args)
                fn(2000, *args)
                # valgrind --toggle-collect=functools_reduce
                # --dump-after=functools_reduce: one dump per site
                functools.reduce(lambda _, m: fn(m, *args), [n], None)
                labels.append("%s|%s" % (k, t))
                times[(k, t)].append(None)
            return times
        for r in range(nrounds):
            for k, t in rotate(plan, r):
                fn, args = kinds[k](t)
                fn(2000, *args)  # warm up / re-specialize
                fn(2000, *args)
                best = None
                for _ in range(5):  # timeit-style: the best of 5 short runs
                    t0 = now()
                    fn(n // 5, *args)
                    t1 = now()
                    best = t1 - t0 if best is None else min(best, t1 - t0)
                times[(k, t)].append(best / (n // 5))
        return times

    def specialized():
        """The adaptive form of each loop's interesting instructions: whether
        the interpreter still specializes the call or attribute site."""
        import dis
        out = {}
        for k in kinds:
            for t in tags:
                fn, _ = kinds[k](t)
                ops = [i.opname for i in dis.get_instructions(fn, adaptive=True)
                       if i.opname.startswith(("CALL", "LOAD_ATTR", "LOAD_GLOBAL"))]
                out["%s|%s" % (k, t)] = ops
        return out

    before = measure(rounds, tags)
    spec_before = specialized()

    def reload_to(t, variant):
        path = mods[t].__file__
        write(path, gen.b4_module(variant))
        reloader.reload("b4_%s" % t)
        o = objs[t]
        ok = (b4_caller.__dict__["f_" + t](1) == 1 + variant and o.m() == 1 + variant
              and mods[t].K.__doc__ == "K, variant %d." % variant and type(o) is mods[t].K)
        if not ok:
            raise AssertionError("reload of b4_%s to variant %d did not take" % (t, variant))

    t0 = now()
    reload_to("b", 2)
    for i in range(many):
        reload_to("c", 2 if i % 2 == 0 else 1)
    reload_secs = (now() - t0) / 1e9
    settle()
    after = measure(rounds, tags)
    spec_after = specialized()
    return {"results": {"before": {"%s|%s" % k: v for k, v in before.items()},
                        "after": {"%s|%s" % k: v for k, v in after.items()}},
            "specialized": {"before": spec_before, "after": spec_after},
            "count_labels": labels,
            "reloads": many, "iterations": n, "reload_seconds": reload_secs,
            "missing": {}}


# ===========================================================================
# B5 memory
# ===========================================================================

def b5(p):
    import marshal
    import tracemalloc
    F, C, M, n = p["F"], p["C"], p["M"], p["reloads"]
    aname = p["adapter"]
    budget = p.get("budget_s", 1e9)
    adapter_list, missing = A.available([A.BY_NAME[aname]])
    if not adapter_list:
        return {"missing": missing, "results": {}}
    a = adapter_list[0]
    root = scratch("b5")
    name = "b5_%s" % A.SLUG[a.name]
    path = os.path.join(root, name + ".py")
    tname = gen.b1_target(F)
    versions = [gen.b1_module(F, C, M, True, 1), gen.b1_module(F, C, M, True, 2)]
    # reloader, past the first reloads: the new code comes as the watcher
    # hands it over (precompiled(), fresh code objects from marshal each
    # time), so 200 reloads do not spend minutes compiling under tracemalloc
    marshalled = [marshal.dumps(compile(v, path, "exec", dont_inherit=True))
                  for v in versions]
    digests = None
    if a.kind == "reloader":
        from reloader import _api, _stamps
        digests = [_stamps.digest(v.encode()) for v in versions]
    write(path, gen.b1_module(F, C, M, True, 0))
    targets = [(name, path)]
    a.setup(root, targets)
    # traced from before the import: the reloads free what the import made,
    # and tracemalloc only subtracts frees of what it saw allocated
    tracemalloc.start(1)
    mod = importlib.import_module(name)
    a.imported(targets)
    held = (getattr(mod, tname), mod.C_0, mod.C_0(1))  # what a program holds

    def live_counts():
        gc.collect()
        fn = cl = 0
        for o in gc.get_objects():
            t = type(o)
            if t is type(live_counts):
                if o.__module__ == name:
                    fn += 1
            elif isinstance(o, type) and o.__dict__.get("__module__") == name:
                cl += 1
        return fn, cl

    before_counts = live_counts()
    gc.collect()
    base = tracemalloc.get_traced_memory()[0]
    tracemalloc.reset_peak()
    after2 = peak_compile = None
    t0 = time.monotonic()
    status, error, done = "ok", None, 0
    for i in range(n):
        write(path, versions[i % 2])
        try:
            a.prepare(targets)
            if digests is not None and i >= 4:
                _api.precompiled(mod.__spec__.origin, digests[i % 2],
                                 marshal.loads(marshalled[i % 2]))
            nss = a.run(targets)
            ok = nss[0][tname](1, 0, "q") == 1 + 1000 * (1 + i % 2)
        except Exception as exc:  # noqa: BLE001
            status, error = "crash", err_text(exc)
            break
        if not ok:
            status, error = "wrong result", "new code did not run at reload %d" % (i + 1)
            break
        del nss
        done = i + 1
        if i == 1:
            settle()
            gc.collect()
            after2 = tracemalloc.get_traced_memory()[0]
        if i == 3:
            peak_compile = tracemalloc.get_traced_memory()[1]
        if time.monotonic() - t0 > budget and done >= 2:
            break
    elapsed = time.monotonic() - t0
    settle()
    gc.collect()
    cur, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    after_counts = live_counts()
    del held
    return {"results": {a.name: {
        "status": status, "error": error, "reloads": done, "kind": a.kind,
        "growth": cur - base, "growth_after_2": (cur - after2) if after2 is not None else None,
        "peak": (peak_compile if peak_compile is not None else peak) - base,
        "functions": [before_counts[0], after_counts[0]],
        "classes": [before_counts[1], after_counts[1]], "seconds": elapsed,
        "note": a.note()}},
        "missing": missing}


# ===========================================================================
# B6 pause of Watcher.poll()
# ===========================================================================

def b6(p):
    if reloader is None:
        return {"missing": {"reloader": "not importable"}, "results": {}}
    if not hasattr(reloader, "watch"):
        return {"pending": "reloader.watch() is not there yet (reloader/_watch.py)",
                "results": {}, "missing": {}}
    F, C, M, rounds = p["F"], p["C"], p["M"], p["rounds"]
    root = scratch("b6")
    tname = gen.b1_target(F)
    names = {"w": "b6_watched", "fc": "b6_floor_c", "fe": "b6_floor_e"}
    paths = {k: os.path.join(root, v + ".py") for k, v in names.items()}
    for k in paths:
        write(paths[k], gen.b1_module(F, C, M, True, 0))
    mod = importlib.import_module(names["w"])
    held = getattr(mod, tname)
    interval = p.get("interval", 0.05)
    w = reloader.watch([paths["w"]], interval=interval)
    fc, fe = A.FloorCompile(), A.FloorExec()
    res = {k: {"times": [None] * rounds, "cpu": [None] * rounds, "status": "ok",
               "error": None, "kind": kind}
           for k, kind in (("Watcher.poll() that applies the edit", "reloader"),
                           (fc.name, "floor"), (fe.name, "floor"))}
    idle, notice, reaped = [], [], []
    try:
        deadline_total = time.monotonic() + p.get("budget_s", 120)
        for r in range(1, rounds + 1):
            src = gen.b1_module(F, C, M, True, r)
            for k, a in (("fc", fc), ("fe", fe)):
                write(paths[k], src)
                tg = [(names[k], paths[k])]
                a.prepare(tg)
                settle()
                gc.collect()
                w0, t0 = wall(), now()
                nss = a.run(tg)
                t1, w1 = now(), wall()
                res[a.name]["times"][r - 1] = w1 - w0
                res[a.name]["cpu"][r - 1] = t1 - t0
                assert nss[0][tname](1, 0, "q") == 1 + 1000 * r
            rec = res["Watcher.poll() that applies the edit"]
            if rec["status"] != "ok":
                continue
            while w.poll() is not None:  # nothing pending before the edit
                pass
            settle()
            b0 = reaper_busy_ns()
            gc.collect()
            write(paths["w"], src)
            written = time.monotonic()
            deadline = written + 10.0
            report = None
            while time.monotonic() < deadline:
                w0, t0 = wall(), now()
                report = w.poll()
                t1, w1 = now(), wall()
                if report is not None:
                    break
                idle.append(w1 - w0)
                time.sleep(0.002)
            if report is None:
                rec["status"] = "wrong result"
                rec["error"] = "no report within 10 s (last_error=%r)" % (
                    getattr(w, "last_error", None),)
                continue
            notice.append(time.monotonic() - written)
            settle()
            reaped.append(reaper_busy_ns() - b0)
            if held(1, 0, "q") != 1 + 1000 * r:
                rec["status"] = "wrong result"
                rec["error"] = "the new code does not run after poll()"
                continue
            rec["times"][r - 1] = w1 - w0
            rec["cpu"][r - 1] = t1 - t0
            if time.monotonic() > deadline_total:
                break
    finally:
        w.stop()
    return {"results": res, "missing": {}, "idle_poll_ns": idle, "notice_s": notice,
            "reaped_ns": reaped, "interval": interval}


# ===========================================================================
# B7 import time with and without change tracking
# ===========================================================================

B7_CHILD = r"""
import sys, time, importlib
sys.path.insert(0, sys.argv[1])
n = int(sys.argv[2])
if sys.argv[3] == "1":
    import reloader
t0 = time.process_time_ns()
for i in range(n):
    __import__("b7_%03d" % i)
t1 = time.process_time_ns()
print(t1 - t0)
"""


def b7(p):
    n, rounds = p["modules"], p["rounds"]
    root = tempfile.mkdtemp(prefix="reloader-bench-b7-")
    for i in range(n):
        write(os.path.join(root, "b7_%03d.py" % i), gen.b7_module(i))

    def one(with_reloader, pyc):
        env = dict(os.environ)
        env.pop("BENCH_PEERS_SITE", None)
        cmd = [sys.executable]
        if not pyc:
            cmd.append("-B")
        cmd += ["-c", B7_CHILD, root, str(n), "1" if with_reloader else "0"]
        outp = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              check=True, text=True)
        return int(outp.stdout.strip().splitlines()[-1])

    missing = {}
    if reloader is None:
        missing["reloader"] = "not importable"
        return {"missing": missing, "results": {}}
    one(False, True)  # write the pycs
    res = {}
    for pyc in (True, False):
        label = "pyc cached" if pyc else "no pyc (-B, compile every module)"
        if not pyc:
            shutil.rmtree(os.path.join(root, "__pycache__"), ignore_errors=True)
        plain, tracked = [], []
        for r in range(rounds):
            if r % 2:
                tracked.append(one(True, pyc))
                plain.append(one(False, pyc))
            else:
                plain.append(one(False, pyc))
                tracked.append(one(True, pyc))
        res[label] = {"plain": plain, "reloader": tracked}
    shutil.rmtree(root, ignore_errors=True)
    return {"results": res, "missing": missing, "modules": n}


SCENARIOS = {"b1": b1, "b2": b2, "b3": b3, "b4": b4, "b5": b5, "b6": b6, "b7": b7}


def main():
    name, params, out_path = sys.argv[1], json.loads(sys.argv[2]), sys.argv[3]
    gc.collect()
    t0 = time.monotonic()
    result = SCENARIOS[name](params)
    result.update({"scenario": name, "params": params, "env": env_info(),
                   "wall_s": time.monotonic() - t0})
    tmp = out_path + ".tmp"
    with open(tmp, "w") as fh:
        json.dump(result, fh)
    os.replace(tmp, out_path)
    sys.stdout.flush()
    os._exit(0)  # no teardown of a million objects, no watcher threads


if __name__ == "__main__":
    main()
