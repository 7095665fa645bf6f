"""Instruction counts (callgrind) of B1/B2 reloads against their floors.

    .venv-3.12/bin/python bench/count.py [--edit] [--py PYTHON]

Timings on a shared 2-core machine wander by 10-20% even in CPU time; the
instructions that one reload executes do not (PYTHONHASHSEED=0). Each line
runs bench/prof_reload.py under valgrind, counting only the bracketed call
(--toggle-collect=functools_reduce), 3 calls per run, and prints the count
per call. --edit adds the after-an-edit configurations, which compile a
100 KB module under valgrind (about two minutes each).
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
CALLS = 3


def count(py, args):
    out = os.path.join(HERE, "out", "count.cg")
    os.makedirs(os.path.dirname(out), exist_ok=True)
    cmd = ["valgrind", "--tool=callgrind", "--toggle-collect=functools_reduce",
           "--callgrind-out-file=" + out, py, os.path.join(HERE, "prof_reload.py"),
           "--reloads", str(CALLS)] + args
    env = dict(os.environ, PYTHONHASHSEED="0")
    r = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       text=True)
    m = re.search(r"refs:\s+([\d,]+)", r.stdout)
    if r.returncode != 0 or not m:
        raise SystemExit("count.py: valgrind failed:\n" + r.stdout[-2000:])
    return int(m.group(1).replace(",", "")) / CALLS


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--py", default=sys.executable)
    ap.add_argument("--edit", action="store_true")
    args = ap.parse_args()
    configs = [
        ("B1 F=2000/C=200/M=10, code compiled", [], "compiled", "floor-exec", 4000),
        ("B1 F=200/C=20/M=10, code compiled", ["--F", "200", "--C", "20"], "compiled",
         "floor-exec", 400),
        ("B2 100 modules x 50 functions, code compiled", ["--package", "100"], "compiled",
         "floor-exec", 5000),
    ]
    if args.edit:
        configs.append(("B1 F=2000/C=200/M=10, after an edit", [], "edit", "floor-compile",
                        4000))
    print("%-48s %14s %14s %7s %16s" % ("", "reloader", "floor", "ratio",
                                          "extra/callable"))
    for label, extra, mode, floor, n in configs:
        a = count(args.py, ["--mode", mode] + extra)
        b = count(args.py, ["--mode", floor] + extra)
        print("%-48s %12.2fM %12.2fM %6.3fx %10.0f instr" % (
            label, a / 1e6, b / 1e6, a / b, (a - b) / n), flush=True)


if __name__ == "__main__":
    main()
