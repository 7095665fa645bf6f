"""SPEC §1: each reload is logged on the logger named "reloader"."""

import logging


def _records(caplog, level):
    return [r for r in caplog.records if r.name == "reloader" and r.levelno == level]


V1 = """
    __reload_data__ = {"LIMIT"}
    LIMIT = 1

    def changed():
        return 1

    def gone():
        return 1

    class Vec:
        __slots__ = ("x",)
"""

V2 = """
    __reload_data__ = {"LIMIT"}
    LIMIT = 2

    def changed():
        return 2

    def fresh():
        return 1

    class Vec:
        __slots__ = ("y",)
"""


def test_one_info_line_per_batch_and_one_debug_line_per_change(mods, caplog):
    mods.module("m", V1)
    caplog.set_level(logging.DEBUG, logger="reloader")
    r = mods.update("m", V2)
    infos = _records(caplog, logging.INFO)
    assert len(infos) == 1
    assert mods.n("m") in infos[0].getMessage()  # a user expects to see which modules
    debugs = [rec.getMessage() for rec in _records(caplog, logging.DEBUG)]
    changes = list(r.updated) + list(r.added) + list(r.removed) + \
        list(r.data_replaced) + [q for q, _ in r.restart_required]
    assert len(changes) >= 5
    assert len(debugs) == len(changes)
    for name in changes:
        assert sum(name in msg for msg in debugs) >= 1, name


def test_info_per_batch_counts_batches_not_modules(mods, caplog):
    mods.write({"a.py": "X = 1\n", "b.py": "Y = 1\n"})
    mods.imp("a")
    mods.imp("b")
    caplog.set_level(logging.INFO, logger="reloader")
    mods.reload(["a", "b"])
    mods.reload("a")
    assert len(_records(caplog, logging.INFO)) == 2


def test_no_debug_lines_at_info_level(mods, caplog):
    mods.module("m", V1)
    caplog.set_level(logging.INFO, logger="reloader")
    mods.update("m", V2)
    assert len(_records(caplog, logging.INFO)) == 1
    assert _records(caplog, logging.DEBUG) == []


def test_instance_hook_error_logged_at_warning(mods, caplog):
    m = mods.module("m", "class K:\n    pass\n")
    k = m.K()
    caplog.set_level(logging.DEBUG, logger="reloader")
    r = mods.update("m", """
        class K:
            def __reload_instance__(self):
                raise KeyError("no way")
    """)
    warnings = _records(caplog, logging.WARNING)
    assert len(warnings) == 1 and len(r.errors) == 1
    assert "no way" in warnings[0].getMessage()
    del k


def test_records_reach_the_root_logger(mods, caplog):
    # caplog listens on the root logger: "reloader" must propagate
    mods.module("m", "X = 1\n")
    caplog.set_level(logging.INFO)
    mods.reload("m")
    assert len(_records(caplog, logging.INFO)) == 1
