"""SPEC §1 watch() / Watcher: edits noticed in the background, applied by poll()."""

import logging
import os
import sys
import threading
import time
import types

import pytest

import reloader
from reloader import _api, _core, _watch

# Generous: the bounded waits below end as soon as their condition holds.
WAIT = 30.0
INTERVAL = 0.2

V1 = "def f():\n    return 1\n"


def src(n):
    return "def f():\n    return %d\n" % n


@pytest.fixture(params=["watchfiles", "polling"])
def backend(request, monkeypatch):
    if request.param == "polling":
        monkeypatch.setenv("RELOADER_POLLING", "1")
    else:
        pytest.importorskip("watchfiles")
        monkeypatch.delenv("RELOADER_POLLING", raising=False)
    return request.param


@pytest.fixture
def watcher(backend):
    """watcher(paths=None, interval=INTERVAL) -> a Watcher that is stopped at
    teardown; .pending is an Event set whenever something becomes pending."""
    made = []

    def make(paths=None, interval=INTERVAL):
        w = reloader.watch(paths, interval=interval)
        w.pending = threading.Event()
        w._on_pending = w.pending.set
        assert repr(w).startswith("<Watcher") and backend in repr(w)
        made.append(w)
        return w

    yield make
    for w in made:
        w.stop()


def poll_until_report(w, timeout=WAIT):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        report = w.poll()
        if report is not None:
            return report
        time.sleep(0.02)
    raise AssertionError("no report within %ss" % timeout)


def wait_for(event, timeout=WAIT):
    assert event.wait(timeout), "nothing became pending within %ss" % timeout


def test_edit_is_applied_by_poll_on_the_callers_thread(hot_module, watcher):
    m = hot_module("w_edit", V1)
    f = m.f
    w = watcher()
    hot_module.write("w_edit", src(2))
    wait_for(w.pending)
    # pending, compiled, but nothing patched from the watcher's thread
    assert f() == 1
    report = w.poll()
    assert isinstance(report, reloader.Report)
    assert report.modules == ("w_edit",) and "w_edit.f" in report.updated
    assert m.f is f and f() == 2
    assert w.poll() is None and w.last_error is None


def test_poll_with_nothing_pending_returns_none(hot_module, watcher):
    hot_module("w_idle", V1)
    w = watcher()
    assert w.poll() is None
    assert w.last_error is None


def test_poll_runs_precompiled_code(hot_module, watcher, monkeypatch):
    m = hot_module("w_pre", V1)
    w = watcher()
    offered = []
    real_offer = _api.precompiled
    monkeypatch.setattr(_api, "precompiled",
                        lambda *a: offered.append(a) or real_offer(*a))
    hot_module.write("w_pre", src(2))
    wait_for(w.pending)
    compiled = []
    real = compile
    monkeypatch.setattr(_api, "compile", lambda *a, **k: compiled.append(a) or real(*a, **k),
                        raising=False)
    report = poll_until_report(w)
    assert report.modules == ("w_pre",) and m.f() == 2
    assert compiled == []  # the helper process compiled it; poll() only executed
    # ... and fingerprinted it: nothing was computed on this side
    (path, dig, code, source, fps), = offered
    assert fps == _core.CodeFingerprints(code).blob()


def test_poll_applies_only_the_content_that_became_pending(hot_module, watcher, caplog):
    m = hot_module("w_half", V1)
    f = m.f
    w = watcher()
    hot_module.write("w_half", src(2) + "\ndef g():\n    return 'complete'\n")
    wait_for(w.pending)
    w.pending.clear()
    # the next save has begun when the game's tick polls: half a file
    hot_module.write("w_half", "def f(:\n")
    with caplog.at_level(logging.ERROR, logger="reloader"):
        assert w.poll() is None
    assert f() == 1 and w.last_error is None and not caplog.records
    hot_module.write("w_half", src(3))  # the save completes
    report = poll_until_report(w)
    assert report.modules == ("w_half",) and m.f is f and f() == 3


def test_failed_batch_is_retried_when_the_new_module_it_imports_is_fixed(
        hot_module, watcher, backend):
    if backend == "polling":
        pytest.skip("the polling fallback watches the loaded modules' files only")
    m = hot_module("w_fixa", V1)
    f = m.f
    w = watcher()
    helper = hot_module.write("w_fixa", V1).parent / "w_fixh.py"
    helper.write_text("VALUE = (\n")  # a module a's new code imports: broken
    hot_module.write("w_fixa", "from w_fixh import VALUE\n\ndef f():\n    return VALUE\n")
    deadline = time.monotonic() + WAIT
    while w.last_error is None and time.monotonic() < deadline:
        w.poll()
        time.sleep(0.02)
    assert w.last_error is not None and f() == 1
    helper.write_text("VALUE = 42\n")  # the fix is in the helper, not in a
    report = poll_until_report(w)
    assert report.modules == ("w_fixa",) and m.f is f and f() == 42
    assert w.last_error is None


def test_burst_of_saves_is_debounced(hot_module, watcher, caplog):
    m = hot_module("w_burst", V1)
    f = m.f
    w = watcher(interval=1.0)
    caplog.set_level(logging.ERROR, logger="reloader")
    # An editor's save in steps: truncated and broken, then complete. Polled
    # all along, none of the broken states may be applied or reported.
    reports = []
    for partial in ("def f(", "def f():\n", "def f():\n    ret", src(3)):
        hot_module.write("w_burst", partial)
        report = w.poll()
        if report is not None:
            reports.append(report)
        time.sleep(0.02)
    reports.append(poll_until_report(w))
    assert len(reports) == 1 and reports[0].modules == ("w_burst",)
    assert m.f is f and f() == 3
    assert w.last_error is None
    assert [r for r in caplog.records if r.levelno >= logging.ERROR] == []


def test_syntax_error_is_reported_once_then_the_fix_applies(hot_module, watcher, caplog):
    m = hot_module("w_syntax", V1)
    f = m.f
    w = watcher()
    caplog.set_level(logging.ERROR, logger="reloader")
    hot_module.write("w_syntax", "def f(:\n    return 2\n")
    wait_for(w.pending)
    for _ in range(5):
        assert w.poll() is None
    err = w.last_error
    assert isinstance(err, reloader.ReloadError) and err.module == "w_syntax"
    assert isinstance(err.__cause__, SyntaxError)
    assert err.__cause__.filename == str(hot_module.path("w_syntax"))
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1 and "w_syntax" in errors[0].getMessage()
    assert m.f is f and f() == 1  # nothing changed
    w.pending.clear()
    hot_module.write("w_syntax", src(4))
    wait_for(w.pending)
    report = poll_until_report(w)
    assert "w_syntax.f" in report.updated and f() == 4
    assert w.last_error is None
    assert len([r for r in caplog.records if r.levelno == logging.ERROR]) == 1


def test_module_level_error_is_kept_until_a_later_batch_succeeds(hot_module, watcher, caplog):
    m = hot_module("w_raise", V1)
    w = watcher()
    caplog.set_level(logging.ERROR, logger="reloader")
    hot_module.write("w_raise", src(2) + "raise RuntimeError('boom')\n")
    wait_for(w.pending)
    assert w.poll() is None
    assert isinstance(w.last_error.__cause__, RuntimeError)
    w.pending.clear()
    hot_module.write("w_raise", src(5) + "X = 'different, still broken'\nraise RuntimeError\n")
    wait_for(w.pending)
    assert w.poll() is None
    assert len([r for r in caplog.records if r.levelno == logging.ERROR]) == 2  # two contents
    w.pending.clear()
    hot_module.write("w_raise", src(6))
    wait_for(w.pending)
    assert poll_until_report(w).modules == ("w_raise",)
    assert m.f() == 6 and w.last_error is None


def test_touch_and_edit_back_leave_nothing_pending(hot_module, watcher):
    hot_module("w_touch", V1)
    w = watcher()
    hot_module.write("w_touch", src(1))  # same content, new mtime
    time.sleep(INTERVAL * 5)
    assert not w.pending.is_set() and w.poll() is None
    hot_module.write("w_touch", src(2))
    wait_for(w.pending)
    hot_module.write("w_touch", V1)  # back to what runs
    deadline = time.monotonic() + WAIT
    while w._pending and time.monotonic() < deadline:
        time.sleep(0.02)
    assert w.poll() is None and w.last_error is None


def test_a_reload_made_elsewhere_is_not_applied_twice(hot_module, watcher):
    m = hot_module("w_twice", V1)
    w = watcher()
    hot_module.write("w_twice", src(2))
    wait_for(w.pending)
    assert reloader.reload("w_twice").modules == ("w_twice",)
    assert w.poll() is None and m.f() == 2


def test_edits_in_one_burst_make_one_batch(hot_module, watcher):
    a = hot_module("w_pair_a", V1)
    b = hot_module("w_pair_b", "from w_pair_a import f\n\ndef g():\n    return f() * 10\n")
    w = watcher()
    hot_module.write("w_pair_a", src(2))
    hot_module.write("w_pair_b", "from w_pair_a import f\n\ndef g():\n    return f() * 100\n")
    report = poll_until_report(w)
    assert set(report.modules) == {"w_pair_a", "w_pair_b"}
    assert b.g() == 200 and a.f() == 2


def test_module_imported_after_the_watcher_started_is_watched(hot_module, watcher):
    w = watcher()
    m = hot_module("w_late.sub", V1)
    time.sleep(INTERVAL * 3)  # let the watcher take the new directory in
    hot_module.write("w_late.sub", src(7))
    report = poll_until_report(w)
    assert report.modules == ("w_late.sub",) and m.f() == 7


def test_explicit_paths_limit_what_is_watched(hot_module, watcher, tmp_path):
    inside = hot_module("w_in.mod", V1)
    outside = hot_module("w_out", V1)
    w = watcher([hot_module.path("w_in.mod").parent])
    hot_module.write("w_out", src(2))
    hot_module.write("w_in.mod", src(3))
    report = poll_until_report(w)
    assert report.modules == ("w_in.mod",) and inside.f() == 3
    assert outside.f() == 1
    assert "w_out" in reloader.changed()


def test_a_file_path_can_be_watched(hot_module, watcher):
    m = hot_module("w_file", V1)
    w = watcher(str(hot_module.path("w_file")))
    hot_module.write("w_file", src(8))
    assert poll_until_report(w).modules == ("w_file",) and m.f() == 8


def test_stop_and_context_manager_end_the_thread(hot_module, backend):
    hot_module("w_ctx", V1)
    with reloader.watch(interval=INTERVAL) as w:
        assert w._thread.is_alive()
    assert not w._thread.is_alive()
    assert "stopped" in repr(w)
    w.stop()  # idempotent
    assert w.poll() is None


@pytest.mark.parametrize("kwargs, error", [
    ({"interval": 0}, ValueError),
    ({"interval": -1.0}, ValueError),
    ({"interval": float("nan")}, ValueError),
    ({"interval": "0.5"}, TypeError),
    ({"interval": True}, TypeError),
    ({"paths": 42}, TypeError),
    ({"paths": [b"/tmp"]}, TypeError),
    ({"paths": [""]}, TypeError),
    ({"paths": ["/no/such/dir/for/reloader"]}, FileNotFoundError),
])
def test_bad_arguments_raise_and_start_nothing(kwargs, error):
    threads = threading.active_count()
    with pytest.raises(error):
        reloader.watch(**kwargs)
    assert threading.active_count() == threads


def test_polling_is_used_when_watchfiles_is_missing(monkeypatch):
    import builtins
    real_import = builtins.__import__

    def no_watchfiles(name, *args, **kwargs):
        if name == "watchfiles":
            raise ImportError("no watchfiles here")
        return real_import(name, *args, **kwargs)

    monkeypatch.delenv("RELOADER_POLLING", raising=False)
    monkeypatch.setattr(builtins, "__import__", no_watchfiles)
    assert isinstance(_watch._backend(), _watch._Polling)


def test_compile_helper_gives_code_equal_to_compile(tmp_path):
    source = b"def f(x=1):\n    '''doc'''\n    return [i * x for i in range(3)]\n"
    compiler = _watch._Compiler()
    try:
        code, fps = compiler.compile(str(tmp_path / "m.py"), source)
        assert compiler.compile(str(tmp_path / "m.py"), b"def f(:\n") is None  # broken source
        again, _ = compiler.compile(str(tmp_path / "m.py"), source)  # still serving
    finally:
        compiler.close()
    expected = compile(source, str(tmp_path / "m.py"), "exec", dont_inherit=True)
    assert code == expected and again == expected
    assert code.co_filename == str(tmp_path / "m.py")
    # the helper fingerprinted it as this process does
    assert fps == _core.CodeFingerprints(expected).blob()
    assert len(_core.CodeFingerprints(code, fps)) == len(_core.CodeFingerprints(expected))


def test_compile_helper_without_core_still_compiles(monkeypatch, tmp_path):
    monkeypatch.setattr(_watch._api, "core_file", lambda: str(tmp_path / "missing.so"))
    compiler = _watch._Compiler()
    try:
        code, fps = compiler.compile(str(tmp_path / "m.py"), b"def f():\n    return 1\n")
    finally:
        compiler.close()
    assert fps is None and isinstance(code, types.CodeType)


def test_compile_helper_that_is_not_python_is_given_up(monkeypatch, tmp_path, caplog):
    fake = tmp_path / "not-python"
    fake.write_text("#!/bin/sh\necho nonsense\n")
    fake.chmod(0o755)
    monkeypatch.setattr(_watch.sys, "executable", str(fake))
    compiler = _watch._Compiler()
    with caplog.at_level(logging.WARNING, logger="reloader"):
        assert compiler.compile(str(tmp_path / "m.py"), b"x = 1\n") is None
        assert compiler.compile(str(tmp_path / "m.py"), b"x = 1\n") is None
    assert len([r for r in caplog.records if "compile helper" in r.getMessage()]) == 1
    compiler.close()


@pytest.mark.parametrize("watched", ["default", "file", "directory"])
def test_save_by_rename_is_seen(hot_module, watcher, watched):
    m = hot_module("w_atomic.mod", V1)
    path = hot_module.path("w_atomic.mod")
    w = watcher({"default": None, "file": [path], "directory": [path.parent]}[watched])
    time.sleep(INTERVAL * 2)  # the first save was seen as it happened
    for n in (2, 3):
        temp = path.with_name(".mod.py.swp")
        temp.write_text(src(n))
        os.replace(temp, path)  # how many editors save
        report = poll_until_report(w)
        assert report.modules == ("w_atomic.mod",) and m.f() == n


def test_save_by_rename_over_a_symbolic_link_is_seen(tmp_path, watcher, monkeypatch):
    # the module is imported through a link in app/; the editor saves by
    # renaming a new file over the link, which leaves the target as it was
    (tmp_path / "real").mkdir()
    (tmp_path / "app").mkdir()
    target = tmp_path / "real" / "w_link_mod.py"
    target.write_text(V1)
    link = tmp_path / "app" / "w_link_mod.py"
    link.symlink_to(target)
    monkeypatch.syspath_prepend(str(tmp_path / "app"))
    import w_link_mod as m
    try:
        f = m.f
        w = watcher()
        time.sleep(INTERVAL * 2)
        temp = link.with_name(".w_link_mod.py.swp")
        temp.write_text(src(2))
        os.replace(temp, link)
        report = poll_until_report(w)
        assert report.modules == ("w_link_mod",) and m.f is f and f() == 2
        assert target.read_text() == V1 and not link.is_symlink()
    finally:
        sys.modules.pop("w_link_mod", None)


def test_failing_file_events_fall_back_to_polling(hot_module, monkeypatch, caplog):
    pytest.importorskip("watchfiles")
    monkeypatch.delenv("RELOADER_POLLING", raising=False)

    def broken(self, *args):
        raise OSError("OS file watch limit reached")
        yield  # a generator, as the real one

    monkeypatch.setattr(_watch._Events, "run", broken)
    m = hot_module("w_fallback", V1)
    caplog.set_level(logging.WARNING, logger="reloader")
    with reloader.watch(interval=INTERVAL) as w:
        hot_module.write("w_fallback", src(9))
        assert poll_until_report(w).modules == ("w_fallback",)
        assert "polling" in repr(w)
    assert m.f() == 9
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings == ["reloader: file events failed (OS file watch limit reached); "
                        "polling instead"]
