"""Every allocation of a plan and commit failing in turn: each failure leaves
the module exactly as it was, each success applies the whole edit, and no
reference is lost (a collection runs after every round). Runs the driver in
its own process, so a crash fails the test instead of killing pytest."""
import os
import subprocess
import sys

import pytest

_testcapi = pytest.importorskip("_testcapi")
if not hasattr(_testcapi, "set_nomemory"):
    pytest.skip("this CPython has no allocation-failure hook", allow_module_level=True)

DRIVER = os.path.join(os.path.dirname(__file__), "nomemory_driver.py")


def test_every_failed_allocation_leaves_the_module_as_it_was():
    proc = subprocess.run(
        [sys.executable, "-X", "faulthandler", DRIVER, "1", "250", "1"],
        capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    line = proc.stdout.strip().splitlines()[-1]
    checked, applied = (int(w) for w in line.split() if w.isdigit())
    assert checked == 249
    # the sweep must reach both outcomes: failures and full applications
    assert 0 < applied < checked, line
