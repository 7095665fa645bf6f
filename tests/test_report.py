"""SPEC §1 Report: fields, names, str() and as_dict()."""

import json
import re

import reloader

FIELDS = ("modules", "updated", "added", "removed", "data_replaced",
          "restart_required", "errors")

V1 = """
    __reload_data__ = {"LIMIT"}
    LIMIT = 1
    COUNT = 0

    def same_fn():
        return 1

    def changed_fn():
        return 1

    def gone_fn():
        return 1

    class K:
        _reload_data = {"SPEED"}
        SPEED = 1

        def meth(self):
            return 1

        def legacy(self):
            return 1

        class Inner:
            def val(self):
                return 1

    class Vec:
        __slots__ = ("x",)
"""

V2 = """
    __reload_data__ = {"LIMIT"}
    LIMIT = 2
    COUNT = 0

    def same_fn():
        return 1

    def changed_fn():
        return 2

    def fresh_fn():
        return 3

    class K:
        _reload_data = {"SPEED"}
        SPEED = 2

        def meth(self):
            return 2

        def area(self):
            return 1

        class Inner:
            def val(self):
                return 2

    class Vec:
        __slots__ = ("x", "y")
"""


def _report(mods):
    mods.module("m", V1)
    return mods.update("m", V2)


def test_report_type_and_field_types(mods):
    r = _report(mods)
    assert isinstance(r, reloader.Report)
    for field in FIELDS:
        value = getattr(r, field)
        assert isinstance(value, tuple), field
    for field in ("modules", "updated", "added", "removed", "data_replaced", "errors"):
        assert all(isinstance(x, str) for x in getattr(r, field)), field
    for entry in r.restart_required:
        assert isinstance(entry, tuple) and len(entry) == 2
        assert all(isinstance(x, str) for x in entry)
    assert isinstance(r.duration, float) and r.duration >= 0.0


def test_report_names_are_module_qualnames(mods):
    r = _report(mods)
    n = mods.n
    assert r.modules == (n("m"),)
    assert set(r.updated) == set(map(n, ["m.changed_fn", "m.K", "m.K.meth", "m.K.Inner",
                                        "m.K.Inner.val"]))
    assert n("m.same_fn") not in r.updated
    assert set(r.added) == {n("m.fresh_fn"), n("m.K.area")}
    assert set(r.removed) == {n("m.gone_fn"), n("m.K.legacy")}
    assert set(r.data_replaced) == {n("m.LIMIT"), n("m.K.SPEED")}
    assert [q for q, _ in r.restart_required] == [n("m.Vec")]
    assert r.errors == ()


def test_no_duplicates_in_report(mods):
    r = _report(mods)
    for field in ("updated", "added", "removed", "data_replaced"):
        values = getattr(r, field)
        assert len(values) == len(set(values)), field


def _hits(lines, tag, name):
    word = re.compile(r"(?<![\w.])%s(?![\w.])" % re.escape(name))
    return [ln for ln in lines if tag in ln and word.search(ln)]


def test_str_has_one_tagged_line_per_change(mods):
    r = _report(mods)
    assert r.updated and r.added and r.removed and r.data_replaced and r.restart_required
    lines = str(r).splitlines()
    for tag, field in (("[U]", "updated"), ("[A]", "added"), ("[D]", "removed"),
                       ("[R]", "data_replaced")):
        for name in getattr(r, field):
            assert len(_hits(lines, tag, name)) == 1, (tag, name, lines)
    for name, reason in r.restart_required:
        hits = _hits(lines, "[!]", name)
        assert len(hits) == 1, (name, lines)
    # every tagged line belongs to a change
    tagged = [ln for ln in lines if re.search(r"\[[UADR!]\]", ln)]
    total = sum(len(getattr(r, f)) for f in ("updated", "added", "removed",
                                              "data_replaced", "restart_required"))
    assert len(tagged) == total


def test_str_of_an_unchanged_reload_has_no_tagged_lines(mods):
    mods.module("m", "def f():\n    return 1\n")
    r = mods.reload("m")
    assert not re.search(r"\[[UADR!]\]", str(r))


def test_as_dict_is_json_serialisable_and_complete(mods):
    r = _report(mods)
    assert r.updated and r.added and r.removed and r.data_replaced and r.restart_required
    d = r.as_dict()
    back = json.loads(json.dumps(d))
    for field in FIELDS:
        assert field in back, field
    assert back["updated"] == list(r.updated)
    assert back["added"] == list(r.added)
    assert back["removed"] == list(r.removed)
    assert back["data_replaced"] == list(r.data_replaced)
    assert back["modules"] == list(r.modules)
    assert [tuple(x) for x in back["restart_required"]] == list(r.restart_required)
    assert back["errors"] == list(r.errors)
    assert back["duration"] == r.duration


def test_report_of_batch_lists_modules_in_execution_order(mods):
    mods.write({"a.py": "import $b\nX = 1\n", "b.py": "Y = 1\n"})
    mods.imp("a")
    r = mods.reload(["a", "b"])
    assert r.modules == mods.ns("b", "a")


def test_duration_measures_the_batch(mods):
    mods.module("m", "X = 1\n")
    mods.write({"m.py": "import time\ntime.sleep(0.05)\nX = 1\n"})
    r = mods.reload("m")
    assert 0.05 <= r.duration < 30


def test_errors_field_lists_instance_hook_failures(mods):
    m = mods.module("m", "class K:\n    pass\n")
    keep = [m.K(), m.K()]
    r = mods.update("m", """
        class K:
            def __reload_instance__(self):
                raise ValueError("hook failed")
    """)
    assert len(r.errors) == 2
    assert all(isinstance(e, str) and "\n" not in e for e in r.errors)
    assert json.loads(json.dumps(r.as_dict()))["errors"] == list(r.errors)
    del keep


def test_public_names():
    assert issubclass(reloader.ReloadError, Exception)
    assert isinstance(reloader.Report, type)
    err = reloader.ReloadError("x", module="m")
    assert err.module == "m"
