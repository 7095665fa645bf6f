"""Leaks (issue 6.3): reload a module of thousands of functions hundreds of
times, alternating two versions, holding every reference of the first
import, and check that nothing accumulates: live code objects, functions,
classes and cells return to a steady level, and so do pymalloc blocks and
tracemalloc's traced size (growth per reload, estimated by the median step
so that a one-off table resize does not count).

The work runs in its own process (tests/isolated/leak_worker.py), so that
the measurements see only the reloader. The full check is slow and marked
``leaks`` (``pytest -m leaks``); a small one runs with every test run.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys

import pytest

WORKER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "isolated",
                      "leak_worker.py")

# Limits per reload. A leak of old code, closures or class dicts costs at
# least one object per function or class per reload: tens of kilobytes and
# hundreds of blocks for these modules, far above the limits. What a reload
# does keep by design is one emptied shadow globals dict (about 70 bytes,
# README: Limits); under CI load the median step also wanders by a few
# hundred bytes (296 seen on 3.11), so the byte limit leaves room for both.
TRACED_BYTES_PER_RELOAD = 1024
BLOCKS_PER_RELOAD = 8


def run_worker(*args: str, timeout: float) -> dict:
    proc = subprocess.run([sys.executable, WORKER, *args], capture_output=True,
                          text=True, timeout=timeout)
    assert proc.returncode == 0, "leak worker failed (%d):\n%s\n%s" % (
        proc.returncode, proc.stdout[-3000:], proc.stderr[-3000:])
    return json.loads(proc.stdout.strip().splitlines()[-1])


def slope(values, step: int) -> float:
    """Median growth per reload between consecutive samples ``step`` apart."""
    diffs = [b - a for a, b in zip(values, values[1:])]
    return statistics.median(diffs) / step if diffs else 0.0


def check_steady(result: dict) -> None:
    samples = result["samples"]
    summary = json.dumps(result, indent=None)[:4000]
    half = samples[len(samples) // 2:]
    for key in ("functions", "classes"):
        values = {s[key] for s in samples}
        assert len(values) == 1, "live %s change across reloads: %s" % (key, summary)
    for key in ("codes", "cells"):
        assert max(s[key] for s in half) <= half[0][key], \
            "live %s keep growing: %s" % (key, [s[key] for s in samples])
    blocks = slope([s["blocks"] for s in half], result["every"])
    assert blocks < BLOCKS_PER_RELOAD, "%.1f pymalloc blocks per reload: %s" % (
        blocks, [s["blocks"] for s in samples])
    traced = result["traced"]
    # the first traced reloads replace objects allocated before tracing:
    # judge the second half only
    growth = slope(traced[len(traced) // 2:], 2)
    assert growth < TRACED_BYTES_PER_RELOAD, \
        "traced memory grows %.0f bytes per reload: %s" % (growth, traced)


def test_repeated_reloads_reach_a_steady_level():
    """200 functions, 20 classes, 60 + 40 reloads (several seconds)."""
    result = run_worker("--funcs", "200", "--reloads", "60", "--every", "10",
                        "--traced", "40", timeout=300)
    check_steady(result)


@pytest.mark.leaks
def test_thousands_of_functions_hundreds_of_reloads(request):
    """3000 functions, 300 classes, 300 + 24 reloads (a few minutes)."""
    if "leaks" not in (request.config.getoption("markexpr") or ""):
        pytest.skip("slow leak check: run with -m leaks")
    result = run_worker("--funcs", "3000", "--reloads", "300", "--every", "20",
                        "--traced", "24", timeout=1800)
    check_steady(result)
