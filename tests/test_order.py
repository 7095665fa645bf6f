"""SPEC §2.7: modules of a batch run in import order."""

import sys

import pytest

A_SRC = """
    import $b
    __reload_data__ = {"SEEN"}
    SEEN = $b.version()
"""


def _b(version):
    return "def version():\n    return %d\n" % version


@pytest.mark.parametrize("listed", [["a", "b"], ["b", "a"]])
def test_importer_sees_the_new_imported_module(mods, listed):
    mods.write({"a.py": A_SRC, "b.py": _b(1)})
    a, b = mods.imp("a"), mods.imp("b")
    version = b.version
    assert a.SEEN == 1
    mods.write({"b.py": _b(2)})
    r = mods.reload(listed)
    assert r.modules == mods.ns("b", "a")
    assert b.version is version and b.version() == 2
    assert a.SEEN == 2
    assert a.__dict__[mods.n("b")] is b


@pytest.mark.parametrize("form,use", [
    ("import $b", "$b.version()"),
    ("import $b as bb", "bb.version()"),
    ("from $b import version", "version()"),
    ("from $b import *", "version()"),
])
def test_every_import_form_sees_the_new_module(mods, form, use):
    src = "%s\n__reload_data__ = {'SEEN'}\nSEEN = %s\n" % (form, use)
    mods.write({"a.py": src, "b.py": _b(1)})
    a, b = mods.imp("a"), mods.imp("b")
    mods.write({"b.py": _b(2)})
    mods.reload(["a", "b"])
    assert a.SEEN == 2
    if "from" in form:
        assert a.version is b.version


def test_importer_sees_new_names_and_kept_data(mods):
    mods.write({
        "a.py": """
            import $b
            __reload_data__ = {"SEEN"}
            SEEN = ($b.COUNTER,)
        """,
        "b.py": "COUNTER = 0\n",
    })
    a, b = mods.imp("a"), mods.imp("b")
    b.COUNTER = 7
    mods.write({
        "a.py": """
            import $b
            __reload_data__ = {"SEEN"}
            SEEN = ($b.COUNTER, $b.extra(), $b.Thing().v())
        """,
        "b.py": """
            COUNTER = 100

            def extra():
                return "extra"

            class Thing:
                def v(self):
                    return "thing"
        """,
    })
    mods.reload(["a", "b"])
    assert a.SEEN == (7, "extra", "thing")


def test_importer_sees_the_kept_class_data(mods):
    # SPEC §7: "new code, kept data", for class attributes as for globals
    mods.write({
        "a.py": "import $b\n",
        "b.py": """
            class Conf:
                level = 1
                class Inner:
                    depth = 1
        """,
    })
    a, b = mods.imp("a"), mods.imp("b")
    Conf, Inner = b.Conf, b.Conf.Inner
    Conf.level, Inner.depth = 9, 4
    mods.write({
        "a.py": """
            import $b
            __reload_data__ = {"SEEN"}
            SEEN = ($b.Conf.level, $b.Conf.Inner.depth, $b.Conf().twice(),
                    $b.Conf.fresh)
        """,
        "b.py": """
            class Conf:
                level = 2
                fresh = "new"
                def twice(self):
                    return self.level * 2
                class Inner:
                    depth = 2
        """,
    })
    r = mods.reload(["a", "b"])
    assert a.SEEN == (9, 4, 18, "new")
    assert b.Conf is Conf and b.Conf.Inner is Inner
    assert (Conf.level, Inner.depth, Conf.fresh) == (9, 4, "new")
    assert r.data_replaced == ()


def test_importer_sees_a_class_opted_in_data_as_the_source_gives_it(mods):
    mods.write({"a.py": "import $b\n",
                "b.py": "class Conf:\n    level = 1\n    other = 1\n"})
    a, b = mods.imp("a"), mods.imp("b")
    b.Conf.level = b.Conf.other = 9
    mods.write({
        "a.py": """
            import $b
            __reload_data__ = {"SEEN"}
            SEEN = ($b.Conf.level, $b.Conf.other)
        """,
        "b.py": """
            class Conf:
                __reload_data__ = {"level"}
                level = 2
                other = 2
        """,
    })
    r = mods.reload(["b", "a"])
    assert a.SEEN == (2, 9) and (b.Conf.level, b.Conf.other) == (2, 9)
    assert r.data_replaced == mods.ns("b.Conf.level")


def test_writes_by_a_later_batch_module_into_its_imports_stick(mods):
    # as when a alone is reloaded: a's top-level code configures b
    mods.write({
        "a.py": "import $b\n$b.SETTING = 'nine'\n$b.Conf.level = 9\n$b.Conf.extra = 1\n",
        "b.py": "SETTING = 'default'\nclass Conf:\n    level = 1\n    built = 0\n",
    })
    a, b = mods.imp("a"), mods.imp("b")
    Conf = b.Conf
    Conf.built = 5
    mods.write({
        "a.py": """
            import $b
            $b.SETTING = "twelve"
            $b.Conf.level = 12
            $b.Conf.extra = 2
            $b.Conf.built += 1
        """,
        "b.py": """
            SETTING = "default"
            class Conf:
                level = 1
                built = 0
                def m(self):
                    return 2
        """,
    })
    r = mods.reload(["b", "a"])
    assert b.Conf is Conf and Conf().m() == 2
    assert (b.SETTING, Conf.level, Conf.extra, Conf.built) == ("twelve", 12, 2, 6)
    assert r.data_replaced == () and r.updated == mods.ns("b.Conf")
    # the writes are data: a reload of b alone keeps them
    mods.touch("b.py")
    mods.reload(["b"])
    assert (b.SETTING, Conf.level, Conf.extra, Conf.built) == ("twelve", 12, 2, 6)


def test_a_failed_batch_drops_the_later_writes(mods):
    mods.write({"a.py": "import $b\n", "c.py": "X = 1\n",
                "b.py": "SETTING = 1\nclass Conf:\n    level = 1\n"})
    a, b, c = mods.imp("a"), mods.imp("b"), mods.imp("c")
    mods.write({"a.py": "import $b\n$b.SETTING = 2\n$b.Conf.level = 2\n",
                "c.py": "raise ValueError('c is broken')\n"})
    assert mods.fail(["b", "a", "c"]).module == mods.n("c")
    assert (b.SETTING, b.Conf.level) == (1, 1)


def test_chain_runs_deepest_first(mods):
    mods.write({
        "a.py": "import $b\n",
        "b.py": "import $c\n",
        "c.py": "X = 1\n",
    })
    mods.imp("a")
    r = mods.reload(["a", "b", "c"])
    assert r.modules == mods.ns("c", "b", "a")
    r = mods.reload(["c", "a", "b"])
    assert r.modules == mods.ns("c", "b", "a")


def test_diamond(mods):
    mods.write({
        "top.py": "import $left, $right\n",
        "left.py": "import $base\n",
        "right.py": "import $base\n",
        "base.py": "X = 1\n",
    })
    mods.imp("top")
    r = mods.reload(["top", "left", "right", "base"])
    order = list(r.modules)
    assert sorted(order) == sorted(mods.ns("top", "left", "right", "base"))
    assert order[0] == mods.n("base") and order[-1] == mods.n("top")


def test_import_inside_a_function_is_not_an_ordering_edge_but_still_works(mods):
    mods.write({
        "a.py": "def use():\n    import $b\n    return $b.version()\n",
        "b.py": _b(1),
    })
    a = mods.imp("a")
    mods.imp("b")
    mods.write({"b.py": _b(2)})
    r = mods.reload(["a", "b"])
    assert sorted(r.modules) == sorted(mods.ns("a", "b"))
    assert a.use() == 2


def test_circular_imports_in_a_batch(mods):
    # a user expects a cycle that imports fine to reload fine
    mods.write({
        "a.py": "import $b\n\ndef fa():\n    return 'a1:' + $b.fb()\n",
        "b.py": "import $a\n\ndef fb():\n    return 'b1'\n",
    })
    a, b = mods.imp("a"), mods.imp("b")
    fa = a.fa
    mods.write({
        "a.py": "import $b\n\ndef fa():\n    return 'a2:' + $b.fb()\n",
        "b.py": "import $a\n\ndef fb():\n    return 'b2'\n",
    })
    r = mods.reload(["a", "b"])
    assert sorted(r.modules) == sorted(mods.ns("a", "b"))
    assert a.fa is fa and fa() == "a2:b2"


@pytest.mark.parametrize("form,use", [
    ("from . import sub", "sub.version()"),
    ("from .sub import version", "version()"),
    ("from $pkg.sub import version", "version()"),
    ("import $pkg.sub", "$pkg.sub.version()"),
])
def test_package_importing_its_submodule(mods, form, use):
    init = "%s\n__reload_data__ = {'SEEN'}\nSEEN = %s\n" % (form, use)
    mods.write({"pkg/__init__.py": init, "pkg/sub.py": _b(1)})
    pkg = mods.imp("pkg")
    sub = mods.imp("pkg.sub")
    assert pkg.SEEN == 1
    mods.write({"pkg/sub.py": _b(2)})
    r = mods.reload(["pkg", "pkg.sub"])
    assert r.modules == mods.ns("pkg.sub", "pkg")
    assert pkg.SEEN == 2
    assert pkg.sub is sub and sys.modules[mods.n("pkg.sub")] is sub


@pytest.mark.parametrize("form", ["from . import b", "from $pkg import b",
                                  "from $pkg import *"])
def test_sibling_imported_from_its_package_runs_first(mods, form):
    # the package (not in the batch) already has the attribute b, the live
    # module: the importer must still see the new b (SPEC §7)
    mods.write({
        "pkg/__init__.py": "__all__ = ['b']\n",
        "pkg/b.py": _b(1),
        "pkg/a.py": "%s\n__reload_data__ = {'SEEN'}\nSEEN = b.version()\n" % form,
    })
    a, b = mods.imp("pkg.a"), mods.imp("pkg.b")
    version = b.version
    assert a.SEEN == 1
    mods.write({"pkg/b.py": _b(2) + "\ndef extra():\n    return 3\n",
                "pkg/a.py": "%s\n__reload_data__ = {'SEEN'}\n"
                            "SEEN = (b.version(), b.extra())\n" % form})
    r = mods.reload(["pkg.a", "pkg.b"])
    assert r.modules == mods.ns("pkg.b", "pkg.a")
    assert a.SEEN == (2, 3) and a.b is b and b.version is version
    assert sys.modules[mods.n("pkg")].b is b


def test_a_fromlist_naming_a_broken_batch_module_fails_the_batch(mods):
    mods.write({"pkg/__init__.py": "", "pkg/b.py": _b(1),
                "pkg/a.py": "from . import b\nX = 1\n"})
    a, b = mods.imp("pkg.a"), mods.imp("pkg.b")
    mods.write({"pkg/b.py": "raise ValueError('b is broken')\n",
                "pkg/a.py": "from . import b\nX = 2\n"})
    err = mods.fail(["pkg.a", "pkg.b"])
    assert err.module == mods.n("pkg.b") and isinstance(err.__cause__, ValueError)
    assert a.X == 1 and a.b is b and b.version() == 1
    assert sys.modules[mods.n("pkg")].b is b and sys.modules[mods.n("pkg.b")] is b


def test_meta_path_finder_installed_only_for_the_reload(mods):
    probe = mods.module("probe", "SEEN = []\n")
    before = list(sys.meta_path)
    mods.module("m", "import sys, $probe\n$probe.SEEN.append(list(sys.meta_path))\n")
    mods.reload("m")
    during = probe.SEEN[-1]
    assert len(during) > len(before)  # the C core's finder (SPEC §2.7)
    assert len(sys.meta_path) == len(before)
    assert all(x is y for x, y in zip(sys.meta_path, before))


def test_definitions_reordered_removed_and_added(mods):
    """The plan walks the old dict alongside the new one; an edit that
    shuffles, drops and adds names must give the same answers as lookups."""
    import random
    rng = random.Random(7)
    names = ["f%02d" % i for i in range(40)]
    meths = ["m%02d" % i for i in range(30)]

    def source(fnames, mnames, tag):
        out = ["X = 1"]
        out += ["def %s():\n    return (%r, %r)" % (n, n, tag) for n in fnames]
        out.append("class K:\n" + "\n".join(
            "    def %s(self):\n        return (%r, %r)" % (n, n, tag) for n in mnames))
        return "\n".join(out) + "\n"

    m = mods.module("m", source(names, meths, 1))
    held = {n: getattr(m, n) for n in names}
    held_m = {n: m.K.__dict__[n] for n in meths}
    kept = names[5:]
    rng.shuffle(kept)
    new_names = kept[:20] + ["g%02d" % i for i in range(5)] + kept[20:]
    kept_m = meths[3:]
    rng.shuffle(kept_m)
    new_meths = ["n0", "n1"] + kept_m
    report = mods.update("m", source(new_names, new_meths, 2))
    assert set(report.removed) == set(mods.ns(*["m." + n for n in names[:5]]
                                              + ["m.K." + n for n in meths[:3]]))
    assert set(report.added) == set(mods.ns(*["m.g%02d" % i for i in range(5)]
                                            + ["m.K.n0", "m.K.n1"]))
    assert set(report.updated) == set(mods.ns(*["m." + n for n in kept] + ["m.K"]
                                              + ["m.K." + n for n in kept_m]))
    for n in kept:
        assert getattr(m, n) is held[n] and held[n]() == (n, 2)
    for n in names[:5]:
        assert not hasattr(m, n)
    k = m.K()
    for n in kept_m:
        assert m.K.__dict__[n] is held_m[n] and getattr(k, n)() == (n, 2)
    assert list(vars(m)).index("g00") > 0


def test_a_module_first_imported_by_the_batch_gets_the_kept_objects(mods):
    # a's new code imports smith for the first time, and smith copies b's
    # names: after the batch they are b's kept function, class and data
    mods.write({
        "a.py": "import $b\n",
        "b.py": """
            STOCK = []

            class Sword:
                def dmg(self):
                    return 1

            def forge():
                return Sword()
        """,
    })
    a, b = mods.imp("a"), mods.imp("b")
    Sword, forge, stock = b.Sword, b.forge, b.STOCK
    stock.append("old")
    mods.write({
        "a.py": "import $b\nimport $smith\n",
        "b.py": """
            STOCK = []

            class Sword:
                def dmg(self):
                    return 2

            def forge():
                return Sword()
        """,
        "smith.py": """
            from $b import Sword, forge, STOCK

            def make():
                s = forge()
                STOCK.append(s)
                return s
        """,
    })
    mods.reload(["a", "b"])
    smith = sys.modules[mods.n("smith")]
    assert smith.Sword is Sword and smith.forge is forge and smith.STOCK is stock
    s = smith.make()
    assert type(s) is Sword and s.dmg() == 2 and stock == ["old", s]
    assert a.__dict__[mods.n("smith")] is smith and b.Sword is Sword


def test_a_module_first_imported_by_a_failed_batch_stays_imported_with_the_live_objects(mods):
    # SPEC §6: a failed import leaves what it imported; the batch's modules
    # are as they were, and what it copied from them is theirs, not the
    # failed code's
    m = mods.module("m", "STOCK = []\n\ndef f():\n    return 1\n")
    f, stock = m.f, m.STOCK
    mods.write({
        "m.py": "STOCK = []\n\ndef f():\n    return 2\n\nimport $fresh\n"
                "raise RuntimeError('after fresh')\n",
        "fresh.py": "from $m import f, STOCK\n",
    })
    mods.fail("m")
    fresh = sys.modules[mods.n("fresh")]
    assert m.f is f and f() == 1
    assert fresh.f is f and fresh.STOCK is stock
    # fixed: the module stays imported and is not run again
    mods.write({"m.py": "STOCK = []\n\ndef f():\n    return 3\n\nimport $fresh\n"})
    mods.reload("m")
    assert fresh.f is f and f() == 3 and fresh.STOCK is stock


def test_a_first_imported_modules_own_definitions_name_the_kept_objects(mods):
    # its subclass of a batch class, class attributes, defaults and closures
    mods.write({"b.py": "class Sword:\n    def dmg(self):\n        return 1\n"})
    b = mods.imp("b")
    Sword = b.Sword
    mods.write({
        "b.py": "class Sword:\n    def dmg(self):\n        return 2\n\nimport $smith\n",
        "smith.py": """
            from $b import Sword

            class Knight(Sword):
                weapon = Sword

            def make(cls=Sword):
                return cls()

            def maker():
                def inner():
                    return Sword
                return inner

            INNER = maker()
        """,
    })
    mods.reload("b")
    smith = sys.modules[mods.n("smith")]
    assert smith.Knight.__bases__ == (Sword,) and isinstance(smith.Knight(), Sword)
    assert smith.Knight.weapon is Sword and smith.make.__defaults__ == (Sword,)
    assert smith.INNER() is Sword and smith.Knight().dmg() == 2
