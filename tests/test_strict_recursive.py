"""SPEC §1 and §2.3: reload(..., strict=True) and reload(..., recursive=True)."""

import sys

import reloader

SLOTS_V1 = """
    %s
    class Vec:
        __slots__ = ("x",)

        def norm(self):
            return 1

    def version():
        return 1
"""

SLOTS_V2 = """
    %s
    class Vec:
        __slots__ = ("x", "y")

        def norm(self):
            return 2

    def version():
        return 2
"""


def test_strict_refuses_the_whole_batch(mods, snapshot, world):
    mods.write({
        "a.py": SLOTS_V1 % "import $b",
        "b.py": SLOTS_V1 % "",
        "c.py": "def version():\n    return 1\n",
    })
    a, b, c = mods.imp("a"), mods.imp("b"), mods.imp("c")
    states = [snapshot(x) for x in (a, b, c)]
    w = world()
    mods.write({
        "a.py": SLOTS_V2 % "import $b",
        "b.py": SLOTS_V2 % "",
        "c.py": "def version():\n    return 2\n",
    })
    err = mods.fail(["c", "a", "b"], strict=True)
    w.assert_same()
    # b runs before a (a imports b); .module is the module of the first entry
    entries = [q for q, _ in err.report.restart_required]
    assert sorted(entries) == sorted(mods.ns("a.Vec", "b.Vec"))
    assert entries.index(mods.n("b.Vec")) < entries.index(mods.n("a.Vec"))
    assert err.module == entries[0].rsplit(".", 1)[0] == mods.n("b")
    for s in states:
        s.assert_same()
    assert (a.version(), b.version(), c.version()) == (1, 1, 1)


def test_strict_module_is_that_of_the_first_entry(mods):
    mods.write({"a.py": "def version():\n    return 1\n", "b.py": SLOTS_V1 % ""})
    a, b = mods.imp("a"), mods.imp("b")
    mods.write({"a.py": "def version():\n    return 2\n", "b.py": SLOTS_V2 % ""})
    err = mods.fail(["a", "b"], strict=True)
    assert err.module == mods.n("b")
    assert a.version() == 1 and b.version() == 1


def test_strict_applies_a_batch_without_restart_required_edits(mods):
    m = mods.module("m", "def version():\n    return 1\n")
    r = mods.update("m", "def version():\n    return 2\n", strict=True)
    assert m.version() == 2 and r.restart_required == ()


def test_not_strict_applies_the_rest(mods):
    mods.write({"a.py": "def version():\n    return 1\n", "b.py": SLOTS_V1 % ""})
    a, b = mods.imp("a"), mods.imp("b")
    vec = b.Vec()
    mods.write({"a.py": "def version():\n    return 2\n", "b.py": SLOTS_V2 % ""})
    r = mods.reload(["a", "b"])
    assert [q for q, _ in r.restart_required] == [mods.n("b.Vec")]
    assert a.version() == 2 and b.version() == 2
    assert vec.norm() == 1


# recursive ---------------------------------------------------------------------------


def _package(mods):
    mods.write({
        "pkg/__init__.py": "def top():\n    return 1\n",
        "pkg/a.py": "def fa():\n    return 1\n",
        "pkg/sub/__init__.py": "",
        "pkg/sub/b.py": "def fb():\n    return 1\n",
        "pkg/unloaded.py": "LOADED = True\n",
        "pkgx.py": "def fx():\n    return 1\n",
    })
    return [mods.imp(x) for x in ("pkg", "pkg.a", "pkg.sub", "pkg.sub.b", "pkgx")]


def _edit_all(mods, version, broken=None):
    files = {
        "pkg/__init__.py": "def top():\n    return %d\n" % version,
        "pkg/a.py": "def fa():\n    return %d\n" % version,
        "pkg/sub/b.py": "def fb():\n    return %d\n" % version,
        "pkg/unloaded.py": "LOADED = True\n",
        "pkgx.py": "def fx():\n    return %d\n" % version,
    }
    if broken:
        files[broken] += "raise RuntimeError('broken')\n"
    mods.write(files)


def test_recursive_reloads_package_and_loaded_submodules_as_one_batch(mods):
    pkg, a, sub, b, pkgx = _package(mods)
    _edit_all(mods, 2)
    r = mods.reload("pkg", recursive=True)
    assert sorted(r.modules) == sorted(mods.ns("pkg", "pkg.a", "pkg.sub", "pkg.sub.b"))
    assert (pkg.top(), a.fa(), b.fb()) == (2, 2, 2)
    assert pkgx.fx() == 1  # a name prefix is not a package
    assert mods.n("pkg.unloaded") not in sys.modules
    assert mods.n("pkg.a.fa") in r.updated and mods.n("pkg.sub.b.fb") in r.updated


def test_recursive_batch_fails_as_a_whole(mods, snapshot):
    pkg, a, sub, b, pkgx = _package(mods)
    states = [snapshot(x) for x in (pkg, a, sub, b)]
    _edit_all(mods, 2, broken="pkg/sub/b.py")
    err = mods.fail("pkg", recursive=True)
    assert err.module == mods.n("pkg.sub.b")
    for s in states:
        s.assert_same()
    assert (pkg.top(), a.fa(), b.fb()) == (1, 1, 1)


def test_recursive_from_a_subpackage(mods):
    pkg, a, sub, b, pkgx = _package(mods)
    _edit_all(mods, 2)
    r = mods.reload("pkg.sub", recursive=True)
    assert sorted(r.modules) == sorted(mods.ns("pkg.sub", "pkg.sub.b"))
    assert b.fb() == 2 and a.fa() == 1 and pkg.top() == 1


def test_not_recursive_by_default(mods):
    pkg, a, sub, b, pkgx = _package(mods)
    _edit_all(mods, 2)
    r = mods.reload("pkg")
    assert r.modules == (mods.n("pkg"),)
    assert pkg.top() == 2 and a.fa() == 1
    # the submodule attributes the import system set on the package stay
    assert pkg.a is a and pkg.sub is sub


def test_recursive_on_a_plain_module(mods):
    m = mods.module("m", "def f():\n    return 1\n")
    r = mods.update("m", "def f():\n    return 2\n", recursive=True)
    assert r.modules == (mods.n("m"),) and m.f() == 2


def test_recursive_and_strict_together(mods):
    mods.write({"pkg/__init__.py": "", "pkg/v.py": SLOTS_V1 % ""})
    mods.imp("pkg")
    v = mods.imp("pkg.v")
    mods.write({"pkg/v.py": SLOTS_V2 % ""})
    err = mods.fail("pkg", recursive=True, strict=True)
    assert err.module == mods.n("pkg.v")
    assert v.version() == 1


def test_recursive_skips_submodules_outside_configured_roots(mods):
    # a user expects recursive=True to take only the submodules it may reload
    pkg, a, sub, b, pkgx = _package(mods)
    reloader.configure(exclude=[mods.n("pkg.sub")])
    _edit_all(mods, 2)
    r = mods.reload("pkg", recursive=True)
    assert sorted(r.modules) == sorted(mods.ns("pkg", "pkg.a"))
    assert b.fb() == 1



def test_recursive_on_a_namespace_package_reloads_its_submodules(mods):
    # no __init__.py: the package has no source, its submodules do
    mods.write({"ns/mod.py": "def f():\n    return 1\n"})
    mod = mods.imp("ns.mod")
    f = mod.f
    mods.write({"ns/mod.py": "def f():\n    return 2\n"})
    r = mods.reload("ns", recursive=True)
    assert r.modules == (mods.n("ns.mod"),)
    assert mod.f is f and f() == 2


def test_recursive_on_a_namespace_package_without_submodules_is_refused(mods):
    mods.write({"ns/mod.py": "X = 1\n"})
    mods.imp("ns")
    err = mods.fail("ns", recursive=True)
    assert "no Python source" in str(err) and err.module == mods.n("ns")


def test_recursive_leaves_out_a_submodule_whose_file_is_gone(mods):
    # as changed() does: the rest of the package is still reloaded
    pkg, a, sub, b, pkgx = _package(mods)
    _edit_all(mods, 2)
    mods.delete("pkg/a.py")
    r = mods.reload("pkg", recursive=True)
    assert sorted(r.modules) == sorted(mods.ns("pkg", "pkg.sub", "pkg.sub.b"))
    assert (pkg.top(), a.fa(), b.fb()) == (2, 1, 2)


def test_a_submodule_whose_file_is_gone_named_explicitly_fails(mods, snapshot):
    pkg, a, sub, b, pkgx = _package(mods)
    s = snapshot(pkg)
    _edit_all(mods, 2)
    mods.delete("pkg/a.py")
    err = mods.fail(["pkg", "pkg.a"])
    assert err.module == mods.n("pkg.a")
    s.assert_same()


def test_recursive_takes_an_alias_of_a_submodule_once(mods):
    # sys.modules["pkg.old_name"] = pkg.a: an old import path kept working
    pkg, a, sub, b, pkgx = _package(mods)
    fa = a.fa
    sys.modules[mods.n("pkg.old_name")] = a
    _edit_all(mods, 2)
    r = mods.reload("pkg", recursive=True)
    assert sorted(r.modules) == sorted(mods.ns("pkg", "pkg.a", "pkg.sub", "pkg.sub.b"))
    assert a.fa is fa and fa() == 2
    assert not any("old_name" in x for x in r.added + r.updated)
