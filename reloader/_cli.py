"""``python -m reloader``: run a script under a watcher.

The watcher notices edits on its own thread; applying them must happen on the
script's main thread (the thread that owns the program's state), between two
of its bytecodes, and without slowing it down when nothing changed. The
watcher's thread asks for that with ``Py_AddPendingCall``, CPython's own
"run this on the main thread at the next safe point" queue, which is also how
signal handlers reach Python code: no tracing or profiling hook (a cost on
every call), no signal (which would interrupt the script's sleeps and reads,
and collide with its own handlers), no exception injected into its frames.
"""

from __future__ import annotations

import _thread
import argparse
import builtins
import io
import logging
import math
import os
import sys
import threading
import traceback
import types
from typing import Callable, List, Optional, Sequence

from . import __version__, _api, _stamps, _watch
from ._report import Report
from ._watch import Watcher, watch

log = logging.getLogger("reloader")

_PREFIX = "reloader: "


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m reloader",
        description="Hot reloading for running CPython programs.")
    parser.add_argument("--version", action="version",
                        version="reloader %s" % __version__)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    run = commands.add_parser(
        "run", help="run a script; edits to its modules are applied live",
        description="Run SCRIPT as __main__ with sys.argv = [SCRIPT, *ARGS]. "
                    "Edits to the modules it imports are applied on its main "
                    "thread and each report is printed to stderr.")
    run.add_argument("--interval", type=float, default=0.5, metavar="SECONDS",
                     help="quiet time that ends a burst of saves (default 0.5)")
    run.add_argument("script", metavar="SCRIPT")
    run.add_argument("args", nargs="*", metavar="ARGS")  # filled by main()
    return parser


def _script_at(argv: Sequence[str]) -> Optional[int]:
    """Where SCRIPT is in ``run``'s command line, or None. What follows it
    is the script's, verbatim: argparse's REMAINDER would drop a ``--``
    right after SCRIPT, which ``python SCRIPT -- ...`` passes on."""
    i = 0
    while i < len(argv) and argv[i].startswith("-"):
        i += 1  # reloader's own options (--version, -h) before the command
    if i >= len(argv) or argv[i] != "run":
        return None
    i += 1
    while i < len(argv):
        arg = argv[i]
        if arg == "--":
            return i + 1 if i + 1 < len(argv) else None
        if arg == "--interval":
            i += 2
        elif arg.startswith("-"):
            i += 1  # --interval=S, -h or a mistake argparse reports
        else:
            return i
    return None


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = _parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    at = _script_at(argv)
    script_args = argv[at + 1:] if at is not None else []
    options = parser.parse_args(argv[:at + 1] if at is not None else argv)
    if options.command != "run":
        parser.print_usage(sys.stderr)
        return 2
    if not (options.interval > 0 and math.isfinite(options.interval)):
        parser.error("--interval must be a positive number of seconds")
    if not os.path.isfile(options.script):
        parser.error("can't open file %r: no such file" % options.script)
    return run_script(options.script, script_args, options.interval)


def _show(report: Report) -> None:
    print(_PREFIX + str(report).replace("\n", "\n" + _PREFIX), file=sys.stderr, flush=True)


def run_script(script: str, args: List[str], interval: float) -> int:
    """Run ``script`` as ``python SCRIPT ARGS`` would, under a watcher."""
    path = os.path.abspath(script)
    sys.argv[:] = [script, *args]
    if not getattr(sys.flags, "safe_path", False):
        # As for `python SCRIPT`: the script's directory first on sys.path,
        # in place of the current directory that `-m` put there.
        sys.path[0] = os.path.dirname(path)
    _log_errors()
    watcher = watch(interval=interval)
    pump = _MainThreadPump(watcher, _show)
    try:
        _exec_main(path)
    except SystemExit:
        raise  # the script's exit status, as with `python SCRIPT`
    except BaseException as exc:
        _uncaught(exc, path)
        if isinstance(exc, KeyboardInterrupt):
            # Python itself ends the process as killed by SIGINT (status
            # 130), after the atexit handlers: let it, without printing the
            # traceback a second time
            sys.excepthook = lambda *args: None
            raise KeyboardInterrupt from None
        return 1
    finally:
        pump.close()
        watcher.stop()
    return 0


def _exec_main(path: str) -> None:
    """Execute the script as a fresh ``__main__`` module, as `python SCRIPT`
    does (runpy.run_path would set sys.argv[0] to the absolute path)."""
    with io.open_code(path) as fh:
        code = compile(fh.read(), path, "exec", dont_inherit=True)
    main = types.ModuleType("__main__")
    main.__dict__.update(__file__=path, __cached__=None, __loader__=None,
                         __spec__=None, __builtins__=builtins)
    sys.modules["__main__"] = main
    exec(code, main.__dict__)


def _uncaught(exc: BaseException, path: str) -> None:
    """Hand exc to sys.excepthook (the script's, if it set one) as `python
    SCRIPT` would: the traceback from the script's frame on, without ours."""
    tb = exc.__traceback__
    while tb is not None and tb.tb_frame.f_code.co_filename != path:
        tb = tb.tb_next
    # None when the script never ran (a SyntaxError): the error alone
    exc = exc.with_traceback(tb)
    try:
        sys.excepthook(type(exc), exc, tb)
    except BaseException:  # a broken hook: what Python prints then
        traceback.print_exception(type(exc), exc, tb)


def _log_errors() -> None:
    """A failed batch is logged at ERROR by the watcher: show it on stderr,
    once, whatever the script does with the root logger."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setLevel(logging.WARNING)
    handler.setFormatter(logging.Formatter("%(message)s"))
    log.addHandler(handler)
    log.propagate = False


# applying on the main thread ***********************************************

class _MainThreadPump:
    """Runs ``watcher.poll()`` on the main thread whenever the watcher has
    something pending, and only then."""

    def __init__(self, watcher: Watcher, show: Callable[[Report], None]) -> None:
        self._watcher = watcher
        self._show = show
        self._lock = threading.Lock()
        self._scheduled = False
        self._closed = False
        self._retry: Optional[threading.Timer] = None
        watcher._on_pending = self.schedule
        self.schedule()  # anything that became pending before we listened

    def schedule(self) -> None:
        """Ask for a poll() on the main thread (from any thread)."""
        with self._lock:
            if self._scheduled or self._closed:
                return
            self._scheduled = True
        if not _api.run_on_main_thread(self._on_main_thread):
            # CPython's queue is full (it holds 32 calls): try again shortly.
            with self._lock:
                self._scheduled = False
            self._later()

    def _later(self) -> None:
        with self._lock:
            if self._closed:
                return
            if self._retry is not None:
                self._retry.cancel()
            self._retry = threading.Timer(self._watcher._interval, self.schedule)
            self._retry.daemon = True
            self._retry.start()

    def _on_main_thread(self) -> int:
        # Called by the interpreter between two bytecodes of the main thread.
        # Nothing may escape into the script's frames.
        with self._lock:
            self._scheduled = False
            if self._closed:
                return 0
        try:
            if _inside_import_or_reload():
                self._later()
                return 0
            report = self._watcher.poll()
            if report is not None:
                self._show(report)
        except KeyboardInterrupt:
            # Ctrl-C landed in our callback: hand it back to the script.
            _thread.interrupt_main()
        except BaseException:  # never into the script's frames
            log.exception("reloader: applying edits failed")
        return 0

    def close(self) -> None:
        with self._lock:
            self._closed = True
            if self._retry is not None:
                self._retry.cancel()
        self._watcher._on_pending = None


# Where the main thread may not be interrupted by a batch: inside reloader's
# own reload machinery (a reload() call the script made, its hooks).
_BUSY_FILES = frozenset(m.__file__ for m in (_api, _stamps, _watch) if m.__file__)


def _inside_import_or_reload() -> bool:
    """Whether the main thread stopped inside the import system (a module
    half executed) or inside a batch: no safe place to start another."""
    if _api.reloading():
        return True
    frame: Optional[types.FrameType] = sys._getframe(1)
    while frame is not None:
        filename = frame.f_code.co_filename
        if filename.startswith("<frozen importlib") or filename in _BUSY_FILES:
            return True
        frame = frame.f_back
    return False
