"""SPEC §3 command line: python -m reloader run SCRIPT [ARGS...], --version."""

import os
import queue
import subprocess
import sys
import textwrap
import threading
import time

import pytest

import reloader

WAIT = 60.0

# The script prints what helper.value() returns every 20 ms on its main
# thread, and exits once it saw `stop_at`; it gives up (exit 3) after WAIT.
SCRIPT = """
import sys, threading, time
import helper

assert __name__ == "__main__"
print("argv", sys.argv, flush=True)
main = threading.main_thread()
deadline = time.monotonic() + %r
last = None
while time.monotonic() < deadline:
    value = helper.value()
    if value != last:
        print("value", value, threading.current_thread() is main, flush=True)
        last = value
    if value == int(sys.argv[1]):
        sys.exit(0)
    time.sleep(0.02)
sys.exit(3)
""" % WAIT


class Process:
    """A child process whose output lines are read as they come."""

    def __init__(self, args, cwd):
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        env.pop("RELOADER_POLLING", None)
        self.proc = subprocess.Popen([sys.executable, "-m", "reloader", *args],
                                     cwd=str(cwd), env=env, text=True,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.lines = queue.Queue()
        self.seen = {"out": [], "err": []}
        self.cursor = {"out": 0, "err": 0}
        self.readers = [threading.Thread(target=self._read, args=(name, stream), daemon=True)
                        for name, stream in (("out", self.proc.stdout),
                                             ("err", self.proc.stderr))]
        for reader in self.readers:
            reader.start()

    def _read(self, name, stream):
        with stream:
            for line in stream:
                self.lines.put((name, line.rstrip("\n")))

    def expect(self, stream, text):
        """Wait for a line of ``stream`` (after the last one expected there)
        containing ``text``."""
        deadline = time.monotonic() + WAIT
        while True:
            lines = self.seen[stream]
            while self.cursor[stream] < len(lines):
                line = lines[self.cursor[stream]]
                self.cursor[stream] += 1
                if text in line:
                    return line
            if time.monotonic() > deadline:
                raise AssertionError("no %r on std%s; saw %r" % (text, stream, self.seen))
            try:
                name, line = self.lines.get(timeout=0.1)
            except queue.Empty:
                if self.proc.poll() is not None and not any(r.is_alive() for r in self.readers):
                    deadline = 0  # no more output will come
                continue
            self.seen[name].append(line)

    def finish(self):
        """Wait for the exit; return the status."""
        try:
            return self.proc.wait(timeout=WAIT)
        finally:
            self.close()

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        for reader in self.readers:
            reader.join(WAIT)
        while not self.lines.empty():
            name, line = self.lines.get()
            self.seen[name].append(line)


@pytest.fixture
def run():
    """run(args, cwd) -> Process, killed and closed at teardown."""
    started = []

    def start(args, cwd):
        started.append(Process(args, cwd))
        return started[-1]

    yield start
    for p in started:
        p.close()


def write(path, source):
    """Rewrite a file so that no cache can take it for the old one."""
    before = path.stat().st_mtime_ns if path.exists() else 0
    path.write_text(textwrap.dedent(source))
    later = max(before, path.stat().st_mtime_ns) + 2_000_000_000
    os.utime(path, ns=(later, later))


@pytest.fixture
def project(tmp_path):
    write(tmp_path / "helper.py", "def value():\n    return 1\n")
    write(tmp_path / "game.py", SCRIPT)
    return tmp_path


def test_edit_changes_a_running_scripts_behaviour(project, run):
    p = run(["run", "game.py", "2", "--flag"], project)
    assert p.expect("out", "argv") == "argv ['game.py', '2', '--flag']"
    assert p.expect("out", "value 1") == "value 1 True"
    write(project / "helper.py", "def value():\n    return 2\n")
    p.expect("err", "[U] helper.value")
    # applied on the script's main thread, and the loop saw it
    assert p.expect("out", "value 2") == "value 2 True"
    assert p.finish() == 0
    assert any(line.startswith("reloader: reloaded helper") for line in p.seen["err"])


def test_broken_edit_is_reported_once_and_the_script_keeps_running(project, run):
    p = run(["run", "--interval", "0.2", "game.py", "3"], project)
    p.expect("out", "value 1")
    write(project / "helper.py", "def value(:\n    return 2\n")
    p.expect("err", "SyntaxError")
    write(project / "helper.py", "def value():\n    return 3\n")
    p.expect("out", "value 3")
    assert p.finish() == 0
    assert len([line for line in p.seen["err"] if "SyntaxError" in line]) == 1
    assert "value 2" not in " ".join(p.seen["out"])


def test_scripts_exit_status_and_traceback_are_its_own(tmp_path):
    write(tmp_path / "fail.py", """
        import sys
        if sys.argv[1:] == ["exit"]:
            sys.exit(7)
        def boom():
            raise ValueError("bad thing")
        boom()
    """)
    done = subprocess.run([sys.executable, "-m", "reloader", "run", "fail.py", "exit"],
                          cwd=str(tmp_path), capture_output=True, text=True, timeout=WAIT)
    assert done.returncode == 7
    done = subprocess.run([sys.executable, "-m", "reloader", "run", "fail.py"],
                          cwd=str(tmp_path), capture_output=True, text=True, timeout=WAIT)
    assert done.returncode == 1
    assert "ValueError: bad thing" in done.stderr and "in boom" in done.stderr
    assert "runpy" not in done.stderr and "_cli" not in done.stderr


def test_uncaught_errors_go_to_the_scripts_excepthook(tmp_path):
    write(tmp_path / "hooked.py", """
        import sys
        def hook(t, e, tb):
            print("CUSTOM HOOK", t.__name__, tb.tb_frame.f_code.co_name, file=sys.stderr)
        sys.excepthook = hook
        def boom():
            raise RuntimeError("x")
        boom()
    """)
    done = subprocess.run([sys.executable, "-m", "reloader", "run", "hooked.py"],
                          cwd=str(tmp_path), capture_output=True, text=True, timeout=WAIT)
    assert done.returncode == 1
    # the hook saw the script's own frames only, as under `python hooked.py`
    assert done.stderr == "CUSTOM HOOK RuntimeError <module>\n"


def test_keyboard_interrupt_ends_as_under_python(tmp_path):
    write(tmp_path / "ki.py", """
        import atexit
        atexit.register(print, "atexit ran")
        def spin():
            raise KeyboardInterrupt
        spin()
    """)
    plain = subprocess.run([sys.executable, "ki.py"], cwd=str(tmp_path),
                           capture_output=True, text=True, timeout=WAIT)
    done = subprocess.run([sys.executable, "-m", "reloader", "run", "ki.py"],
                          cwd=str(tmp_path), capture_output=True, text=True, timeout=WAIT)
    assert done.returncode == plain.returncode != 0
    assert done.stdout == plain.stdout == "atexit ran\n"
    assert done.stderr == plain.stderr  # one traceback, the script's frames only
    assert "in spin" in done.stderr and "_cli" not in done.stderr


@pytest.mark.parametrize("args", [
    ["--", "-5"], ["--"], ["a", "--", "-b"], ["-h"], ["--interval", "5", "--version"],
])
def test_the_scripts_arguments_are_passed_verbatim(tmp_path, args):
    # as `python SCRIPT ARGS` passes them: also a `--` right after SCRIPT,
    # which argparse's REMAINDER would drop, and options spelled like ours
    write(tmp_path / "argv.py", "import sys\nprint(repr(sys.argv))\n")
    plain = subprocess.run([sys.executable, "argv.py", *args], cwd=str(tmp_path),
                           capture_output=True, text=True, timeout=WAIT)
    under = subprocess.run([sys.executable, "-m", "reloader", "run", "argv.py", *args],
                           cwd=str(tmp_path), capture_output=True, text=True, timeout=WAIT)
    assert under.returncode == plain.returncode == 0, under.stderr
    assert under.stdout == plain.stdout == "%r\n" % (["argv.py", *args],)


def test_options_before_the_script_are_reloaders(tmp_path):
    write(tmp_path / "argv.py", "import sys\nprint(repr(sys.argv))\n")
    done = subprocess.run([sys.executable, "-m", "reloader", "run", "--interval", "0.2", "--",
                           "argv.py", "--interval", "3"], cwd=str(tmp_path),
                          capture_output=True, text=True, timeout=WAIT)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "%r\n" % (["argv.py", "--interval", "3"],)


def test_version():
    done = subprocess.run([sys.executable, "-m", "reloader", "--version"],
                          capture_output=True, text=True, timeout=WAIT)
    assert done.returncode == 0
    assert done.stdout.strip() == "reloader %s" % reloader.__version__


@pytest.mark.parametrize("args, message", [
    ([], "usage"),
    (["run"], "SCRIPT"),
    (["run", "no_such_script.py"], "no_such_script.py"),
    (["run", "--interval", "0", "x.py"], "--interval"),
    (["run", "--interval", "inf", "x.py"], "--interval"),
    (["run", "--interval", "nan", "x.py"], "--interval"),
    (["run", "--interval"], "--interval"),
    (["run", "--bogus", "x.py"], "--bogus"),
    (["frobnicate"], "invalid choice"),
])
def test_bad_command_lines_exit_2_with_a_message(tmp_path, args, message):
    done = subprocess.run([sys.executable, "-m", "reloader", *args], cwd=str(tmp_path),
                          capture_output=True, text=True, timeout=WAIT)
    assert done.returncode == 2
    assert message in done.stderr
    assert done.stdout == ""


def test_script_with_a_syntax_error_shows_only_the_error(tmp_path):
    write(tmp_path / "broken.py", "def f(:\n")
    done = subprocess.run([sys.executable, "-m", "reloader", "run", "broken.py"],
                          cwd=str(tmp_path), capture_output=True, text=True, timeout=WAIT)
    assert done.returncode == 1
    assert "SyntaxError" in done.stderr and "broken.py" in done.stderr
    assert "Traceback" not in done.stderr


def test_no_batch_starts_inside_an_import_or_a_reload(hot_module):
    from reloader import _cli

    assert _cli._inside_import_or_reload() is False
    mod = hot_module("cli_busy", """
        from reloader import _cli
        AT_IMPORT = _cli._inside_import_or_reload()
        SEEN = []

        def __reload__(old):
            SEEN.append(_cli._inside_import_or_reload())
    """)
    assert mod.AT_IMPORT is True
    hot_module.update("cli_busy", """
        from reloader import _cli
        AT_IMPORT = _cli._inside_import_or_reload()
        SEEN = []

        def __reload__(old):
            SEEN.append(_cli._inside_import_or_reload())
    """)
    assert mod.SEEN == [True]
