"""Run the reloader benchmarks (B1-B7) and print one table.

    bench/run [--quick] [--only b1,b3] [--no-313] [--md PATH]

Started by bench/run, which builds reloader (../run build) and installs the
peers first. Each scenario runs in its own subprocess (scenarios.py); this
file only plans, collects JSON and does the arithmetic: medians, and ratios
that are medians of per-round ratios (paired within a round).
"""

from __future__ import annotations

import argparse
import datetime
import glob
import json
import os
import platform
import statistics
import subprocess
import sys
import sysconfig
import time

HERE = os.path.dirname(os.path.abspath(__file__))
MAIN = os.path.dirname(HERE)
OUT = os.path.join(HERE, "out")

F_SMALL = dict(F=200, C=20, M=10)
F_LARGE = dict(F=2000, C=200, M=10)
PEERS = ["importlib.reload", "IPython superreload", "IPython deduperreload",
         "jurigged", "pydevd xreload"]
RL, RLC = "reloader", "reloader (code compiled)"
FC, FE = "floor: read+compile+exec", "floor: exec"
ALL_ADAPTERS = [RL, RLC] + PEERS + [FC, FE]


# ===========================================================================
# plan
# ===========================================================================

def plan(quick, count_b4=False):
    q = (lambda full, short: short if quick else full)
    jobs = []
    for sz, cfg, rounds in (("F=200", F_SMALL, q(15, 5)), ("F=2000", F_LARGE, q(9, 3))):
        for defaults in (True, False):
            label = "B1 %s/C=%d/M=%d %s defaults" % (sz, cfg["C"], cfg["M"],
                                                    "with" if defaults else "without")
            big = cfg["F"] >= 2000
            jobs.append(("b1", label, dict(cfg, defaults=defaults, rounds=rounds,
                                           budget_s=q(8 if big else 10, 3),
                                           split=["jurigged"], side_rounds=q(2 if big else 7, 2)),
                         "3.12"))
    jobs.append(("b1", "B1 F=2000/C=200/M=10 with defaults (reloader only)",
                 dict(F_LARGE, defaults=True, rounds=q(9, 3),
                      adapters=[RL, RLC, FC, FE]), "3.13"))
    jobs.append(("b2", "B2 batch: 100 modules x 50 functions",
                 dict(modules=100, functions=50, rounds=q(7, 3), budget_s=q(8, 3),
                      split=["jurigged"], side_rounds=2), "3.12"))
    jobs.append(("b3", "B3 instance walk: 1M tracked objects, 10k instances, 20 classes",
                 dict(classes=20, per_class=500, heap=1_000_000, rounds=q(7, 3),
                      peers=[n for n in PEERS if n != "jurigged"]), "3.12"))
    for v in ("3.12", "3.13"):
        jobs.append(("b4", "B4 steady state %s" % v,
                     dict(reloads=1100, rounds=q(10, 4), iterations=q(200_000, 100_000)), v))
        if count_b4:
            jobs.append(("b4", "B4 steady state %s, instructions per op (callgrind)" % v,
                         dict(reloads=1100, rounds=1, iterations=20_000, count=True), v))
    for a in [RL] + [p for p in PEERS if p != "jurigged"]:
        jobs.append(("b5", "B5 memory: %s" % a,
                     dict(F_LARGE, reloads=q(200, 12), adapter=a,
                          budget_s=1e9 if a == RL else q(10, 3)), "3.12"))
    jobs.append(("b6", "B6 Watcher.poll() pause, F=2000",
                 dict(F_LARGE, rounds=q(9, 3), interval=0.05), "3.12"))
    jobs.append(("b7", "B7 import of 300 small modules",
                 dict(modules=300, rounds=q(10, 4)), "3.12"))
    return jobs


# ===========================================================================
# environment
# ===========================================================================

def venv_python(v):
    p = os.environ.get("BENCH_PY%s" % v.replace(".", ""))  # override, for debugging
    if p:
        return p
    p = os.path.join(MAIN, ".venv-%s" % v, "bin", "python")
    return p if os.access(p, os.X_OK) else None


def peers_site(v):
    p = os.path.join(HERE, ".peers-%s" % v, "lib", "python%s" % v, "site-packages")
    return p if os.path.isdir(p) else None


def py_info(py):
    code = ("import json, sys, sysconfig; print(json.dumps({'include': "
            "sysconfig.get_paths()['include'], 'suffix': sysconfig.get_config_var('EXT_SUFFIX'),"
            "'version': sys.version.split()[0]}))")
    return json.loads(subprocess.check_output([py, "-c", code], text=True))


def build_floorwalk(py, v):
    """Compile floorwalk.c for this interpreter into bench/out/floorwalk-X.Y."""
    info = py_info(py)
    d = os.path.join(OUT, "floorwalk-%s" % v)
    so = os.path.join(d, "_floorwalk" + info["suffix"])
    src = os.path.join(HERE, "floorwalk.c")
    if os.path.exists(so) and os.path.getmtime(so) >= os.path.getmtime(src):
        return d
    os.makedirs(d, exist_ok=True)
    cc = sysconfig.get_config_var("CC") or "cc"
    cmd = cc.split()[:1] + ["-O2", "-shared", "-fPIC", "-I", info["include"], src, "-o", so]
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if r.returncode != 0:
        print("bench: cannot build the bare-walk probe: %s" % r.stdout[-500:], file=sys.stderr)
        return None
    return d


def machine():
    cpu = platform.processor() or "?"
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem = "?"
    try:
        with open("/proc/meminfo") as fh:
            kb = int(fh.readline().split()[1])
            mem = "%.0f GiB" % (kb / 2**20)
    except (OSError, ValueError, IndexError):
        pass
    return "%s, %d cores, %s RAM, %s %s" % (cpu, os.cpu_count() or 0, mem,
                                            platform.system(), platform.release())


# ===========================================================================
# run
# ===========================================================================

def run_job(idx, job, pythons, fwdirs, timeout):
    scen, label, params, v = job
    py = pythons.get(v)
    if py is None:
        return {"scenario": scen, "label": label, "skipped": "no .venv-%s (run ./run build with "
                "RELOADER_PY=%s)" % (v, v)}
    out = os.path.join(OUT, "job-%02d-%s.json" % (idx, scen))
    log = os.path.join(OUT, "job-%02d-%s.log" % (idx, scen))
    if os.path.exists(out):
        os.remove(out)
    env = dict(os.environ)
    if peers_site(v):
        env["BENCH_PEERS_SITE"] = peers_site(v)
    if fwdirs.get(v):
        env["BENCH_FLOORWALK"] = fwdirs[v]
    t0 = time.monotonic()
    split = params.pop("split", None)
    side_rounds = params.pop("side_rounds", None)
    if split:
        # Adapters that tax the whole process (jurigged's exec audit hook
        # walks every code object that any exec() runs) get a process of
        # their own, with reloader and the floors beside them to pair with.
        main_p = dict(params, adapters=[n for n in ALL_ADAPTERS if n not in split])
        side_p = dict(params, adapters=list(split) + [RL, FC, FE],
                      rounds=side_rounds or params["rounds"])
        res = child(py, scen, main_p, out, log, env, timeout)
        if "crashed" not in res:
            side = child(py, scen, side_p, out + ".side.json", log + ".side", env, timeout)
            if "crashed" in side:
                for name in split:
                    res["results"][name] = {"kind": "peer", "times": [], "status": "crash",
                                            "error": side["crashed"], "checks": {}}
            else:
                for name in split:
                    if name in side["results"]:
                        rec = side["results"][name]
                        rec["group"] = {k: side["results"][k]["times"]
                                        for k in (RL, FC, FE) if k in side["results"]}
                        res["results"][name] = rec
                    elif name in side.get("missing", {}):
                        res["missing"][name] = side["missing"][name]
    else:
        res = child(py, scen, params, out, log, env, timeout)
    res.update({"scenario": scen, "label": label, "python_tag": v,
                "job_wall_s": time.monotonic() - t0})
    return res


def child(py, scen, params, out, log, env, timeout):
    cmd = [py, os.path.join(HERE, "scenarios.py"), scen, json.dumps(params), out]
    cg = None
    if params.get("count"):
        cg = out + ".cg"
        for f in glob.glob(cg + "*"):
            os.remove(f)
        cmd = ["valgrind", "--tool=callgrind", "--toggle-collect=functools_reduce",
               "--dump-after=functools_reduce", "--callgrind-out-file=" + cg] + cmd
        env = dict(env, PYTHONHASHSEED="0")
    with open(log, "w") as lf:
        try:
            proc = subprocess.run(cmd, stdout=lf, stderr=subprocess.STDOUT, env=env,
                                  stdin=subprocess.DEVNULL, timeout=timeout, cwd=HERE)
            rc = proc.returncode
        except subprocess.TimeoutExpired:
            rc = "timeout after %ds" % timeout
    if rc == 0 and os.path.exists(out):
        with open(out) as fh:
            res = json.load(fh)
        if cg:  # one dump per bracketed run, in the order of count_labels
            counts = {}
            for i, label in enumerate(res.get("count_labels", []), 1):
                with open("%s.%d" % (cg, i)) as fh:
                    tot = next(int(ln.split()[1]) for ln in fh if ln.startswith("totals:"))
                phase = "before" if i <= len(res["count_labels"]) // 2 else "after"
                counts.setdefault(phase, {})[label] = [tot / params["iterations"]]
            res["results"] = counts
        return res
    with open(log) as fh:
        tail = fh.read()[-1500:]
    return {"crashed": "exit %s" % rc if not isinstance(rc, str) else rc, "log": tail}


# ===========================================================================
# arithmetic
# ===========================================================================

def med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def paired(a, b):
    """Median over rounds of a[i] / b[i] (both measured in round i)."""
    rs = [x / y for x, y in zip(a, b) if x is not None and y is not None and y > 0]
    return statistics.median(rs) if rs else None


def paired_diff(a, b):
    ds = [x - y for x, y in zip(a, b) if x is not None and y is not None]
    return statistics.median(ds) if ds else None


def fmt_t(ns):
    if ns is None:
        return "-"
    if ns >= 1e9:
        return "%.2f s" % (ns / 1e9)
    if ns >= 1e6:
        return "%.2f ms" % (ns / 1e6)
    if ns >= 1e3:
        return "%.1f us" % (ns / 1e3)
    return "%.1f ns" % ns


def fmt_r(r, suffix="x"):
    return "-" if r is None else "%.3g%s" % (r, suffix)


def fmt_kib(b):
    return "-" if b is None else "%+.0f KiB" % (b / 1024)


class Table:
    def __init__(self):
        self.rows = []  # (section, item, median, ratio1, ratio2, note)
        self.targets = []  # (what, value, goal, ok)

    def section(self, title, h1="", h2="", h3="median CPU"):
        self.rows.append(("#", title, h3, h1, h2, ""))

    def row(self, item, median="", r1="", r2="", note=""):
        self.rows.append(("", item, median, r1, r2, note))

    def target(self, what, value, goal, ok):
        self.targets.append((what, value, goal, ok))

    def text(self):
        w = [0, 0, 0, 0]
        for kind, item, m, a, b, _ in self.rows:
            for i, s in enumerate((item, m, a, b)):
                w[i] = max(w[i], len(s))
        lines = []
        for kind, item, m, a, b, note in self.rows:
            if kind == "#":
                lines.append("")
                lines.append("%s" % item)
                lines.append("  %-*s  %*s  %*s  %*s  %s" % (w[0], "", w[1], m, w[2], a, w[3], b,
                                                          ""))
            else:
                lines.append("  %-*s  %*s  %*s  %*s  %s" % (w[0], item, w[1], m, w[2], a,
                                                          w[3], b, note))
        return "\n".join(lines)

    def markdown(self):
        lines = []
        for kind, item, m, a, b, note in self.rows:
            if kind == "#":
                lines += ["", "**%s**" % item, "",
                          "| | %s | %s | %s | |" % (m, a, b), "|---|---:|---:|---:|---|"]
            else:
                lines.append("| %s | %s | %s | %s | %s |" % (item, m, a, b, note))
        return "\n".join(lines)


def status_note(rec):
    bits = []
    if rec.get("status", "ok") != "ok":
        bits.append("%s: %s" % (rec["status"].upper(), rec.get("error") or ""))
    chk = rec.get("checks") or {}
    if "identity" in chk and not chk["identity"]:
        bits.append("identity NOT kept")
    if "old_refs" in chk and not chk["old_refs"]:
        bits.append("old references run OLD code")
    if chk.get("instance_ok") is False:
        bits.append("existing instance broken")
    if chk.get("identity") and chk.get("old_refs") and rec.get("status", "ok") == "ok":
        bits.append("keeps identity")
    if rec.get("note"):
        bits.append(rec["note"])
    return "; ".join(bits)


def keeps_identity(rec):
    chk = rec.get("checks") or {}
    return rec.get("status") == "ok" and chk.get("identity") and chk.get("old_refs")


def own_process_note(rec):
    """For an adapter measured in a process of its own (see run_job)."""
    g = rec["group"]
    rl = g.get(RL)
    bits = ["own process (its exec audit hook taxes every exec there): ratios vs "
            "that process's floors"]
    if rl and rec["times"]:
        r = paired(rl, rec["times"])
        if r is not None:
            bits.append("reloader there: %s, %s of its time" % (fmt_t(med(rl)), fmt_r(r)))
    return "; ".join(bits)


def spread(xs):
    """Half the interquartile range over the median: the round-to-round noise."""
    xs = sorted(x for x in xs if x is not None)
    if len(xs) < 4:
        return None
    q = statistics.quantiles(xs, n=4)
    return (q[2] - q[0]) / 2 / statistics.median(xs)


def floor_note(rec):
    s = spread(rec.get("times", []))
    return "" if s is None else "round-to-round spread +-%.0f%%" % (s * 100)


def report_failure(t, job):
    if job.get("skipped"):
        t.row("(skipped)", note=job["skipped"])
        return True
    if job.get("crashed"):
        t.row("(scenario process died)", note="%s; see bench/out logs" % job["crashed"])
        return True
    if job.get("pending"):
        t.row("(pending)", note=job["pending"])
        return True
    return False


def do_b1(t, job):
    t.section("%s [py%s, %s rounds]" % (job["label"], job.get("env", {}).get("python", "?"),
                                         job.get("params", {}).get("rounds", "?")),
              "x floor:compile", "x floor:exec")
    if report_failure(t, job):
        return
    res = job["results"]
    fc = res.get(FC, {}).get("times", [])
    fe = res.get(FE, {}).get("times", [])
    n = job["ncallables"]
    for name, rec in res.items():
        g = rec.get("group") or {}
        note = status_note(rec) if rec.get("kind") != "floor" else floor_note(rec)
        if g:
            note = "; ".join(x for x in (note, own_process_note(rec)) if x)
        t.row(name, fmt_t(med(rec["times"])), fmt_r(paired(rec["times"], g.get(FC, fc))),
              fmt_r(paired(rec["times"], g.get(FE, fe))), note)
    for name, why in job.get("missing", {}).items():
        t.row(name, note="unavailable: " + why)
    big = job["params"]["F"] >= 2000
    tag = job["label"].split(" ", 1)[1]
    if RL in res and FC in res:
        pc = paired_diff(res[RL]["times"], fc)
        pc = None if pc is None else pc / n / 1000
        s = spread(fc)
        t.row("reloader patch cost / callable (after edit)", fmt_r(pc, " us"),
              note="(reloader - floor:compile) / %d functions+methods; noise: the floor "
                   "alone wanders by +-%s us per callable here, so the target is judged "
                   "on the code-compiled figure" % (
                       n, "?" if s is None else "%.2f" % (s * med(fc) / n / 1000)))
        r = paired(res[RL]["times"], fc)
        if big and r is not None:
            t.target("B1 %s after an edit vs floor:compile" % tag, "%.3fx" % r, "<= 1.03x",
                     r <= 1.03)
        for name, rec in res.items():
            if rec.get("kind") == "peer" and keeps_identity(rec):
                pr = paired((rec.get("group") or {}).get(RL, res[RL]["times"]), rec["times"])
                if pr is not None:
                    t.target("B1 %s faster than %s (keeps identity)" % (tag, name),
                             "%.3fx its time" % pr, "< 1x", pr < 1.0)
    if RLC in res and FE in res:
        pc = paired_diff(res[RLC]["times"], fe)
        pc = None if pc is None else pc / n / 1000
        t.row("reloader patch cost / callable (code compiled)", fmt_r(pc, " us"),
              note="(reloader (code compiled) - floor:exec) / %d" % n)
        if pc is not None:
            t.target("B1 %s patch cost per callable, code compiled" % tag, "%.3f us" % pc,
                     "<= 0.5 us (stretch 0.25)", pc <= 0.5)
        r = paired(res[RLC]["times"], fe)
        if big and r is not None:
            t.target("B1 %s code compiled vs floor:exec" % tag, "%.3fx" % r,
                     "<= 1.5x (stretch 1.25x)", r <= 1.5)


def do_b2(t, job):
    t.section("%s [py%s, %s rounds]" % (job["label"], job.get("env", {}).get("python", "?"),
                                         job.get("params", {}).get("rounds", "?")),
              "x floor:compile", "x importlib")
    if report_failure(t, job):
        return
    res = job["results"]
    fc = res.get(FC, {}).get("times", [])
    imp = res.get("importlib.reload", {}).get("times", [])
    for name, rec in res.items():
        g = rec.get("group") or {}
        note = status_note(rec) if rec.get("kind") != "floor" else floor_note(rec)
        if g:
            note = "; ".join(x for x in (note, own_process_note(rec)) if x)
        t.row(name, fmt_t(med(rec["times"])), fmt_r(paired(rec["times"], g.get(FC, fc))),
              fmt_r(paired(rec["times"], imp)), note)
    for name, why in job.get("missing", {}).items():
        t.row(name, note="unavailable: " + why)
    if RL in res and imp:
        r = paired(res[RL]["times"], imp)
        if r is not None:
            t.target("B2 batch vs importlib.reload module by module", "%.3fx" % r, "<= 1x",
                     r <= 1.0)


def do_b3(t, job):
    t.section("%s [py%s, %s rounds]" % (job["label"], job.get("env", {}).get("python", "?"),
                                         job.get("params", {}).get("rounds", "?")),
              "x bare walk", "x reloader")
    if report_failure(t, job):
        return
    fres = job["results"]["finders"]
    bare = next((v["times"] for k, v in fres.items() if k.startswith("bare walk")), [])
    rl = fres.get("reloader find_instances", {}).get("times", [])
    for name, rec in fres.items():
        note = status_note(rec)
        if "count" in rec:
            note = (note + "; " if note else "") + "%d objects" % rec["count"]
        t.row(name, fmt_t(med(rec["times"])), fmt_r(paired(rec["times"], bare)),
              fmt_r(paired(rec["times"], rl)), note)
    t.row("jurigged", note="not run in B3: its exec audit hook would tax every other "
          "adapter of the process")
    t.row("heap", note="%d GC-tracked objects, %d instances of %d hooked classes" % (
        job["tracked_objects"], job["instances"], job["classes"]))
    if rl and bare:
        r = paired(rl, bare)
        t.target("B3 find_instances vs one bare walk", "%.3fx" % r, "<= 1.5x", r <= 1.5)
    pc = fres.get("gc.get_referrers per class (x%d)" % job["classes"], {}).get("times")
    if rl and pc:
        r = paired(pc, rl)
        t.target("B3 find_instances vs per-class gc.get_referrers", "%.1fx faster" % r,
                 ">= 25x faster", r >= 25)
    for phase, title in (("small", "whole reload, small heap (%d objects)"
                          % job["small_heap_objects"]),
                         ("big", "whole reload, 1M-object heap")):
        res = job["results"][phase]
        fc = res.get(FC, {}).get("times", [])
        for name, rec in res.items():
            t.row("%s: %s" % (title, name), fmt_t(med(rec["times"])), "x%s floor:compile" %
                  fmt_r(paired(rec["times"], fc), ""), "", status_note(rec))
    s, b = job["results"]["small"], job["results"]["big"]
    key = "reloader [no hooks]"
    if key in s and key in b and FC in s and FC in b:
        rs = paired(s[key]["times"], s[FC]["times"])
        rb = paired(b[key]["times"], b[FC]["times"])
        if rs and rb:
            t.target("B3 no hooks: reload on 1M heap / on small heap (each vs floor:compile)",
                     "%.3fx" % (rb / rs), "~1x (zero cost; <= 1.05x)", rb / rs <= 1.05)


B4_KINDS = ["function call f(i)", "instance attribute o.v", "method call o.m()",
            "class attribute K.CONST"]


def do_b4(t, job):
    t.section("%s [py%s, %s rounds, %s reloads]" % (
        job["label"], job.get("env", {}).get("python", "?"),
        job.get("params", {}).get("rounds", "?"), job.get("reloads", "?")),
        "speed after 1", "after %s" % job.get("reloads", "many"),
        h3="before (%s/op)" % ("instr" if job.get("params", {}).get("count") else "CPU ns"))
    if report_failure(t, job):
        return
    before, after = job["results"]["before"], job["results"]["after"]
    spec = job.get("specialized", {})
    v = job.get("env", {}).get("python", "?")
    for k in B4_KINDS:
        # speed relative to the never-reloaded copy a, in the same round,
        # divided by the same ratio measured before any reload (the copies
        # differ a little on their own: type-cache slots, memory layout)
        def rel(tag):
            r_after = paired(after["%s|a" % k], after["%s|%s" % (k, tag)])
            r_before = paired(before["%s|a" % k], before["%s|%s" % (k, tag)])
            return None if r_after is None or not r_before else r_after / r_before
        r1, rn = rel("b"), rel("c")
        sb = spec.get("before", {}).get("%s|c" % k)
        sa = spec.get("after", {}).get("%s|c" % k)
        note = "before reloading, b/a %s, c/a %s" % (
            fmt_r(paired(before["%s|a" % k], before["%s|b" % k])),
            fmt_r(paired(before["%s|a" % k], before["%s|c" % k])))
        if sb is not None:
            note += "; site: %s -> %s" % ("/".join(x for x in sb if x != "LOAD_GLOBAL_BUILTIN"),
                                        "/".join(x for x in sa if x != "LOAD_GLOBAL_BUILTIN"))
        t.row(k, "%.1f" % med(before["%s|a" % k]), fmt_r(r1), fmt_r(rn), note)
        counted = job.get("params", {}).get("count")
        for label, r in (("1 reload", r1), ("%d reloads" % job["reloads"], rn)):
            if r is not None and not counted:
                t.target("B4 py%s %s after %s" % (v, k, label), "%.3f" % r, ">= 0.98",
                         r >= 0.98)
        if sb is not None and sa is not None and not counted:
            t.target("B4 py%s %s: still specialized after %d reloads" % (v, k, job["reloads"]),
                     "same" if sb == sa else "%s -> %s" % (sb, sa), "same instructions",
                     sb == sa)
    t.row("(%d reloads took %.2f s)" % (job["reloads"], job["reload_seconds"]))


def do_b5(t, jobs):
    t.section("B5 memory: F=2000 module, reloads alternating two versions [py3.12]",
              "peak", "functions/classes", h3="growth")
    for job in jobs:
        if report_failure(t, job):
            continue
        for name, rec in job["results"].items():
            note = status_note(rec)
            extra = "%d reloads in %.1f s (traced); growth after reload 2: %s" % (
                rec["reloads"], rec["seconds"], fmt_kib(rec["growth_after_2"]))
            t.row(name, fmt_kib(rec["growth"]), fmt_kib(rec["peak"]),
                  "%d->%d / %d->%d" % (rec["functions"][0], rec["functions"][1],
                                       rec["classes"][0], rec["classes"][1]),
                  "; ".join(x for x in (note, extra) if x))
            if rec["kind"] == "reloader" and rec["status"] == "ok":
                t.target("B5 growth after %d reloads" % rec["reloads"],
                         fmt_kib(rec["growth"]), "<= 1 MiB", rec["growth"] <= 2**20)
                t.target("B5 live functions/classes", "%s / %s" % (rec["functions"],
                                                                  rec["classes"]),
                         "no growth", rec["functions"][1] <= rec["functions"][0]
                         and rec["classes"][1] <= rec["classes"][0])
        for name, why in job.get("missing", {}).items():
            t.row(name, note="unavailable: " + why)
    t.row("jurigged", note="not run in B5: one reload of this module takes it ~15 s, "
          "~50 s under tracemalloc")


def do_b6(t, job):
    t.section("%s [py%s, %s rounds]" % (job["label"], job.get("env", {}).get("python", "?"),
                                         job.get("params", {}).get("rounds", "?")),
              "x floor:exec", "x floor:compile", h3="median wall")
    if report_failure(t, job):
        return
    res = job["results"]
    fe = res.get(FE, {}).get("times", [])
    fc = res.get(FC, {}).get("times", [])
    for name, rec in res.items():
        cpu = rec.get("cpu") or []
        note = status_note(rec)
        if any(cpu):
            note = "; ".join(x for x in (note, "CPU %s, %s floor:exec CPU" % (
                fmt_t(med(cpu)), fmt_r(paired(cpu, res.get(FE, {}).get("cpu", []))))) if x)
        t.row(name, fmt_t(med(rec["times"])), fmt_r(paired(rec["times"], fe)),
              fmt_r(paired(rec["times"], fc)), note)
    idle = job.get("idle_poll_ns") or []
    if idle:
        t.row("Watcher.poll() with nothing ready", fmt_t(med(idle)), "", "",
              "max %s over %d calls" % (fmt_t(max(idle)), len(idle)))
    if any(job.get("reaped_ns") or []):
        t.row("then on reloader's reaper thread (CPU)", fmt_t(med(job["reaped_ns"])),
              note="freeing the new code the batch did not use, after poll() returned")
    if job.get("notice_s"):
        t.row("edit -> applied (wall clock)", fmt_t(med(job["notice_s"]) * 1e9),
              note="interval=%s s" % job["interval"])
    key = "Watcher.poll() that applies the edit"
    if key in res and fe:
        r = paired(res[key]["times"], fe)
        if r is not None:
            t.target("B6 poll() pause vs floor:exec", "%.3fx" % r, "<= 1.2x", r <= 1.2)


def do_b7(t, job):
    t.section("%s [py%s, %s rounds, fresh process each]" % (
        job["label"], job.get("env", {}).get("python", "?"),
        job.get("params", {}).get("rounds", "?")), "with reloader", "overhead",
        h3="without (CPU)")
    if report_failure(t, job):
        return
    for label, rec in job["results"].items():
        r = paired(rec["reloader"], rec["plain"])
        t.row(label, fmt_t(med(rec["plain"])), fmt_t(med(rec["reloader"])),
              fmt_r(None if r is None else (r - 1) * 100, "%"))
        if r is not None:
            t.target("B7 import overhead, %s" % label, "%+.1f%%" % ((r - 1) * 100), "<= 5%",
                     r <= 1.05)


def render(jobs):
    t = Table()
    b5 = []
    for job in jobs:
        s = job["scenario"]
        if s == "b5":
            b5.append(job)
            continue
        if b5 and s != "b5":
            do_b5(t, b5)
            b5 = []
        {"b1": do_b1, "b2": do_b2, "b3": do_b3, "b4": do_b4, "b6": do_b6,
         "b7": do_b7}[s](t, job)
    if b5:
        do_b5(t, b5)
    return t


def targets_text(t, md=False):
    lines = []
    for what, value, goal, ok in t.targets:
        mark = "met" if ok else "MISSED"
        if md:
            lines.append("| %s | %s | %s | %s |" % (what, value, goal, mark))
        else:
            lines.append("  [%s] %s: %s (target %s)" % (mark, what, value, goal))
    if md:
        lines = ["| target | value | goal | |", "|---|---:|---|---|"] + lines
    return "\n".join(lines)


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="few rounds: a smoke test")
    ap.add_argument("--only", default="", help="comma list of scenarios (b1,...,b7)")
    ap.add_argument("--no-313", action="store_true", help="skip the 3.13 jobs")
    ap.add_argument("--b4-count", action="store_true",
                    help="also count B4's instructions per operation under callgrind "
                         "(about a minute per Python version)")
    ap.add_argument("--md", default=os.path.join(OUT, "results.md"))
    ap.add_argument("--render", default=None, help="only re-render a results.json")
    ap.add_argument("--timeout", type=int, default=600)
    args = ap.parse_args(argv)
    os.makedirs(OUT, exist_ok=True)

    if args.render:
        with open(args.render) as fh:
            doc = json.load(fh)
        jobs = doc["jobs"]
    else:
        pythons = {v: venv_python(v) for v in ("3.12", "3.13")}
        if args.no_313:
            pythons["3.13"] = None
        fwdirs = {v: build_floorwalk(py, v) for v, py in pythons.items() if py}
        only = {s.strip().lower() for s in args.only.split(",") if s.strip()}
        todo = [j for j in plan(args.quick, args.b4_count) if not only or j[0] in only]
        jobs = []
        started = time.monotonic()
        for i, job in enumerate(todo):
            print("bench: [%d/%d] %s (py%s) ..." % (i + 1, len(todo), job[1], job[3]),
                  file=sys.stderr, flush=True)
            jobs.append(run_job(i, job, pythons, fwdirs, args.timeout))
        doc = {"date": datetime.datetime.now().isoformat(timespec="seconds"),
               "machine": machine(), "quick": args.quick,
               "wall_s": time.monotonic() - started, "jobs": jobs,
               "pythons": {v: (py_info(p)["version"] if p else None)
                           for v, p in pythons.items()}}
        with open(os.path.join(OUT, "results.json"), "w") as fh:
            json.dump(doc, fh, indent=1)
    t = render(jobs)
    head = "reloader benchmarks: %s; Python %s; %s; total %.0f s%s" % (
        doc["date"], ", ".join(v for v in doc["pythons"].values() if v), doc["machine"],
        doc["wall_s"], " (QUICK: few rounds)" if doc.get("quick") else "")
    print(head)
    print(t.text())
    print("\nTargets")
    print(targets_text(t))
    with open(args.md, "w") as fh:
        fh.write("%s\n%s\n\n### Targets\n\n%s\n" % (head, t.markdown(), targets_text(t, True)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
