"""SPEC §2.4: data keeps its state unless the module or class opts in."""

import warnings

import pytest

def test_module_data_keeps_runtime_value_and_identity(mods):
    m = mods.module("m", """
        COUNTER = 0
        NAME = "v1"
        RATIO = 1.5
        ITEMS = []
        TABLE = {"a": 1}
        PAIR = (1, 2)
        FLAG = False
        NOTHING = None

        class Thing:
            pass

        INSTANCE = Thing()

        def get():
            return (COUNTER, NAME, list(ITEMS))
    """)
    m.COUNTER = 7
    m.NAME = "runtime"
    m.ITEMS.append("x")
    m.FLAG = True
    m.NOTHING = "set"
    m.RUNTIME_ONLY = object()
    keep = {k: getattr(m, k) for k in ("COUNTER", "NAME", "RATIO", "ITEMS", "TABLE",
                                       "PAIR", "FLAG", "NOTHING", "INSTANCE", "RUNTIME_ONLY")}
    r = mods.update("m", """
        COUNTER = 100
        NAME = "v2"
        RATIO = 2.5
        ITEMS = ["fresh"]
        TABLE = {"b": 2}
        PAIR = (3, 4)
        FLAG = False
        NOTHING = None

        class Thing:
            pass

        INSTANCE = Thing()

        def get():
            return ("new", COUNTER, NAME, list(ITEMS))
    """)
    for k, v in keep.items():
        assert getattr(m, k) is v, k
    assert m.ITEMS == ["x"] and m.TABLE == {"a": 1}
    assert m.get() == ("new", 7, "runtime", ["x"])
    assert type(m.INSTANCE) is m.Thing
    assert r.data_replaced == ()


def test_instance_data_of_reloaded_class_keeps_state(mods):
    m = mods.module("m", """
        class Player:
            def __init__(self):
                self.hp = 100

            def hit(self):
                self.hp -= 1

        HERO = Player()
    """)
    hero = m.HERO
    hero.hit()
    mods.update("m", """
        class Player:
            def __init__(self):
                self.hp = 100

            def hit(self):
                self.hp -= 10

        HERO = Player()
    """)
    assert m.HERO is hero and hero.hp == 99
    hero.hit()
    assert hero.hp == 89


@pytest.mark.parametrize("spelling", ["__reload_data__", "_reload_data"])
def test_reload_data_opts_names_in(mods, spelling):
    src = """
        %s = {"LIMIT", "NAMES"}
        LIMIT = %d
        NAMES = [%d]
        CACHE = {}
    """
    m = mods.module("m", src % (spelling, 10, 1))
    cache = m.CACHE
    m.CACHE["k"] = 1
    m.LIMIT = 11
    r = mods.update("m", src % (spelling, 20, 2))
    assert m.LIMIT == 20
    assert m.NAMES == [2]
    assert m.CACHE is cache and cache == {"k": 1}
    assert sorted(r.data_replaced) == sorted(mods.ns("m.LIMIT", "m.NAMES"))


@pytest.mark.parametrize("spelling", ["__reload_all_data__", "_reload_all_data"])
def test_reload_all_data(mods, spelling):
    src = """
        %s = True
        LEVEL = %d
        NAMES = ["%s"]

        def level():
            return LEVEL * 10
    """
    m = mods.module("m", src % (spelling, 1, "a"))
    level = m.level
    m.LEVEL = 5
    r = mods.update("m", src % (spelling, 2, "b"))
    assert m.LEVEL == 2 and m.NAMES == ["b"]
    assert m.level is level and level() == 20
    assert sorted(r.data_replaced) == sorted(mods.ns("m.LEVEL", "m.NAMES"))
    assert mods.n("m.level") not in r.data_replaced


def test_new_sources_declaration_counts(mods):
    m = mods.module("m", """
        __reload_data__ = {"A"}
        A = 1
        B = 1
    """)
    r = mods.update("m", """
        __reload_data__ = {"B"}
        A = 2
        B = 2
    """)
    assert (m.A, m.B) == (1, 2)
    assert r.data_replaced == (mods.n("m.B"),)


def test_opt_in_dropped_by_new_source_keeps_data(mods):
    m = mods.module("m", "__reload_all_data__ = True\nA = 1\n")
    r = mods.update("m", "A = 2\n")
    assert m.A == 1
    assert r.data_replaced == ()
    assert not hasattr(m, "__reload_all_data__")  # a dunder the new source no longer binds


def test_opt_in_added_by_new_source_applies_now(mods):
    m = mods.module("m", "A = 1\n")
    mods.update("m", "_reload_all_data = True\nA = 2\n")
    assert m.A == 2


@pytest.mark.parametrize("optin", [
    '__reload_data__ = {"speed"}',
    '_reload_data = {"speed"}',
    "__reload_all_data__ = True",
    "_reload_all_data = True",
])
def test_class_opt_in(mods, optin):
    src = """
        class Tank:
            %s
            speed = %d
            built = 0

            def __init__(self):
                Tank.built += 1
    """
    m = mods.module("m", src % (optin, 1))
    Tank = m.Tank
    Tank()
    Tank()
    r = mods.update("m", src % (optin, 5))
    assert m.Tank is Tank
    assert Tank.speed == 5
    if "all" in optin:
        assert Tank.built == 0
    else:
        assert Tank.built == 2
    assert mods.n("m.Tank.speed") in r.data_replaced


def test_module_switch_does_not_cover_classes(mods):
    src = """
        __reload_all_data__ = True
        LIMIT = %d

        class Tank:
            speed = %d
    """
    m = mods.module("m", src % (1, 1))
    r = mods.update("m", src % (2, 2))
    assert m.LIMIT == 2
    assert m.Tank.speed == 1
    assert r.data_replaced == (mods.n("m.LIMIT"),)


def test_class_switch_does_not_cover_module(mods):
    src = """
        LIMIT = %d

        class Tank:
            __reload_all_data__ = True
            speed = %d
    """
    m = mods.module("m", src % (1, 1))
    mods.update("m", src % (2, 2))
    assert m.LIMIT == 1 and m.Tank.speed == 2


def test_new_class_attribute_added(mods):
    m = mods.module("m", "class Tank:\n    speed = 1\n")
    r = mods.update("m", "class Tank:\n    speed = 2\n    armor = 3\n")
    assert m.Tank.armor == 3 and m.Tank.speed == 1
    assert mods.n("m.Tank.armor") in r.added


# dunders --------------------------------------------------------------------------


def test_module_dunders_follow_the_new_source(mods):
    m = mods.module("m", '''
        """old doc"""
        __all__ = ["a"]
        __version__ = "1.0"
        __author__ = "ann"
        __custom__ = 1
        X: int = 1

        def a():
            pass
    ''')
    m.__all__.append("runtime")
    mods.update("m", '''
        """new doc"""
        __all__ = ["a", "b"]
        __version__ = "2.0"
        X: str = "x"
        Y: float = 1.0

        def a():
            pass

        def b():
            pass
    ''')
    assert m.__doc__ == "new doc"
    assert m.__all__ == ["a", "b"]
    assert m.__version__ == "2.0"
    assert m.__annotations__ == {"X": str, "Y": float}
    assert not hasattr(m, "__author__")
    assert "__custom__" not in vars(m)


def test_module_docstring_removed(mods):
    m = mods.module("m", '"""doc"""\nX = 1\n')
    mods.update("m", "X = 1\n")
    assert m.__doc__ is None  # what a fresh import without a docstring has


def test_import_system_dunders_stay(mods):
    mods.write({"pkg/__init__.py": "A = 1\n", "pkg/mod.py": "A = 1\n"})
    pkg, mod = mods.imp("pkg"), mods.imp("pkg.mod")
    names = ("__name__", "__file__", "__spec__", "__loader__", "__package__",
             "__cached__", "__builtins__")
    before = {(m, k): vars(m)[k] for m in (pkg, mod) for k in names if k in vars(m)}
    before[(pkg, "__path__")] = pkg.__path__
    path_list = list(pkg.__path__)
    for k in names:
        if k != "__cached__":
            assert (mod, k) in before, k
    mods.update("pkg", "A = 2\n")
    mods.update("pkg.mod", "A = 2\n")
    for (m, k), v in before.items():
        assert vars(m).get(k, "<gone>") is v, (m.__name__, k)
    assert list(pkg.__path__) == path_list


def test_the_warnings_registry_stays(mods):
    # run time state of the warnings machinery, never in the source: a
    # warning shown once is not shown again because of a reload
    src = """
        import warnings

        def legacy():
            warnings.warn("legacy is deprecated", DeprecationWarning)

        def other():
            return %d
    """
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("default")
        m = mods.module("m", src % 1)
        m.legacy()
        m.legacy()
        registry = m.__warningregistry__
        mods.update("m", src % 2)
        assert m.other() == 2 and m.__warningregistry__ is registry
        m.legacy()
    assert [str(w.message) for w in seen] == ["legacy is deprecated"]


def test_module_getattr_is_a_function_like_any_other(mods):
    m = mods.module("m", """
        def __getattr__(name):
            return "v1:" + name
    """)
    assert m.anything == "v1:anything"
    mods.update("m", """
        def __getattr__(name):
            return "v2:" + name
    """)
    assert m.anything == "v2:anything"
    mods.update("m", "X = 1\n")
    with pytest.raises(AttributeError):
        m.anything


# names that come and go -------------------------------------------------------------


def test_new_names_added(mods):
    m = mods.module("m", "A = 1\n")
    r = mods.update("m", "A = 1\nB = [2]\n\ndef c():\n    return 3\n\nclass D:\n    pass\n")
    assert m.B == [2] and m.c() == 3 and m.D.__name__ == "D"
    assert sorted(r.added) == sorted(mods.ns("m.B", "m.c", "m.D"))


def test_removed_data_kept_removed_definitions_gone(mods):
    m = mods.module("m", """
        TABLE = {"a": 1}

        def gone():
            pass

        class Gone:
            pass
    """)
    table = m.TABLE
    r = mods.update("m", "X = 1\n")
    assert m.TABLE is table
    assert not hasattr(m, "gone") and not hasattr(m, "Gone")
    assert sorted(r.removed) == sorted(mods.ns("m.gone", "m.Gone"))


def test_names_imported_from_elsewhere_are_not_removed(mods):
    mods.write({"other.py": """
        def helper():
            return 1

        class Klass:
            pass
    """})
    m = mods.module("m", """
        import json
        from os.path import join
        from $other import helper, Klass
        import $other as other_mod
    """)
    other = mods.imp("other")
    r = mods.update("m", "X = 1\n")
    assert m.helper is other.helper and m.Klass is other.Klass
    assert m.other_mod is other
    assert m.json.__name__ == "json" and m.join.__name__ == "join"
    assert r.removed == ()


def test_a_change_of_kind_is_removed_and_added(mods):
    m = mods.module("m", """
        class Loot:
            def value(self):
                return 1

        def spawn():
            return "fn"
    """)
    loot = m.Loot()
    r = mods.update("m", """
        def Loot():
            return "loot"

        class spawn:
            pass
    """)
    assert m.Loot() == "loot" and isinstance(m.spawn, type)
    assert loot.value() == 1
    assert sorted(r.removed) == sorted(mods.ns("m.Loot", "m.spawn"))
    assert sorted(r.added) == sorted(mods.ns("m.Loot", "m.spawn"))


def test_own_definition_replaced_by_an_import_is_removed(mods):
    mods.write({"lib.py": "def helper():\n    return 'lib'\n"})
    lib = mods.imp("lib")
    m = mods.module("m", "def helper():\n    return 'own'\n")
    own = m.helper
    r = mods.update("m", "from $lib import helper\n")
    assert m.helper is lib.helper and lib.helper() == "lib"
    assert own() == "own"  # not patched with lib's code
    assert r.removed == mods.ns("m.helper") and r.added == () and r.updated == ()


def test_module_binding_follows_new_source(mods):
    mods.write({"b.py": "X = 'b'\n", "c.py": "X = 'c'\n"})
    b, c = mods.imp("b"), mods.imp("c")
    m = mods.module("m", "import $b as dep\n")
    assert m.dep is b
    mods.update("m", "import $c as dep\n")
    assert m.dep is c


# replacement values ------------------------------------------------------------------


def test_replacement_instances_inside_an_instance_are_of_the_kept_classes(mods):
    src = """
        __reload_data__ = {"WORLD"}

        class Map:
            def __init__(self, name):
                self.name = name

            def size(self):
                return %d

        class World:
            __slots__ = ("map", "__dict__")

            def __init__(self, m):
                self.map = m
                self.maps = {"start": m}
                self.self_ref = self

        WORLD = World(Map("a"))
    """
    m = mods.module("m", src % 1)
    Map, World = m.Map, m.World
    mods.update("m", src % 2)
    w = m.WORLD
    assert type(w) is World and w.self_ref is w
    assert type(w.maps["start"]) is Map and w.maps["start"].size() == 2
    mods.update("m", src % 3)  # a later edit reaches the inner instance
    assert w.maps["start"].size() == 3 and type(w.maps["start"]) is Map


def test_replacement_instance_is_of_the_kept_class(mods):
    m = mods.module("m", """
        __reload_data__ = {"DEFAULT", "ALL"}

        class Config:
            def __init__(self, n):
                self.n = n

            def show(self):
                return "v1"

        DEFAULT = Config(1)
        ALL = [Config(1)]
    """)
    Config = m.Config
    mods.update("m", """
        __reload_data__ = {"DEFAULT", "ALL"}

        class Config:
            def __init__(self, n):
                self.n = n

            def show(self):
                return "v2"

        DEFAULT = Config(2)
        ALL = [Config(2)]
    """)
    assert m.Config is Config
    assert type(m.DEFAULT) is Config and m.DEFAULT.n == 2
    assert isinstance(m.DEFAULT, Config)
    assert m.DEFAULT.show() == "v2"
    # an instance inside a replacement container: a user expects the same
    assert type(m.ALL[0]) is Config


def test_replaced_value_reaches_from_import_copies(mods):
    mods.write({
        "m.py": """
            __reload_data__ = {"LIMITS", "NAME"}
            LIMITS = [1]
            NAME = "old-name-value"
        """,
        "user.py": """
            from $m import LIMITS, NAME
        """,
        "bystander.py": """
            LIMITS = [1]
        """,
    })
    m, user, bystander = mods.imp("m"), mods.imp("user"), mods.imp("bystander")
    unrelated = bystander.LIMITS
    mods.update("m", """
        __reload_data__ = {"LIMITS", "NAME"}
        LIMITS = [2]
        NAME = "new-name-value"
    """)
    assert m.LIMITS == [2]
    assert user.LIMITS is m.LIMITS
    assert user.NAME is m.NAME
    assert bystander.LIMITS is unrelated  # bound to another object: not touched


def test_reload_all_data_reaches_from_import_copies(mods):
    mods.write({
        "m.py": "__reload_all_data__ = True\nTABLE = {'v': 1}\n",
        "user.py": "from $m import TABLE\n",
    })
    m, user = mods.imp("m"), mods.imp("user")
    mods.update("m", "__reload_all_data__ = True\nTABLE = {'v': 2}\n")
    assert user.TABLE is m.TABLE and m.TABLE == {"v": 2}


@pytest.mark.parametrize("order", [["m", "user"], ["user", "m"]])
def test_replaced_value_reaches_a_copy_in_the_same_batch(mods, order):
    """The copying module runs again in the batch and binds the new value
    from the new m: that must not send the replacement back to the old one."""
    mods.write({
        "m.py": "__reload_data__ = {'RATES', 'LEVEL'}\nRATES = {'xp': 1}\nLEVEL = 1\n",
        "user.py": "from $m import RATES, LEVEL\n\ndef rate():\n    return RATES['xp'] + LEVEL\n",
    })
    m, user = mods.imp("m"), mods.imp("user")
    old = m.RATES
    mods.write({"m.py": "__reload_data__ = {'RATES', 'LEVEL'}\nRATES = {'xp': 3}\nLEVEL = 5\n"})
    r = mods.reload(order)
    assert m.RATES == {"xp": 3} and m.RATES is not old
    assert user.RATES is m.RATES and user.LEVEL == 5
    assert user.rate() == 8
    assert sorted(r.data_replaced) == sorted(mods.ns("m.RATES", "m.LEVEL"))


def test_kept_data_copied_in_the_same_batch_stays(mods):
    mods.write({
        "m.py": "RATES = {'xp': 1}\n",
        "user.py": "from $m import RATES\n",
    })
    m, user = mods.imp("m"), mods.imp("user")
    old = m.RATES
    mods.write({"m.py": "RATES = {'xp': 3}\n"})
    r = mods.reload(["m", "user"])
    assert m.RATES is old and user.RATES is old
    assert r.data_replaced == ()


@pytest.mark.parametrize("old", ["None", "True", "False", "Ellipsis", "NotImplemented"])
def test_singleton_old_values_do_not_rebind_copies(mods, old):
    mods.write({
        "m.py": "__reload_data__ = {'X'}\nX = %s\n" % old,
        "user.py": "from $m import X\n",
    })
    m, user = mods.imp("m"), mods.imp("user")
    mods.update("m", "__reload_data__ = {'X'}\nX = [42]\n")
    assert m.X == [42]
    assert user.X is eval(old)


def test_kept_data_does_not_rebind_copies(mods):
    mods.write({"m.py": "ITEMS = [1]\n", "user.py": "from $m import ITEMS\n"})
    m, user = mods.imp("m"), mods.imp("user")
    items = m.ITEMS
    mods.update("m", "ITEMS = [2]\n")
    assert m.ITEMS is items and user.ITEMS is items


# user values are never compared or tested ----------------------------------------------


def test_kept_and_replaced_values_are_never_compared(mods, hostile):
    src = """
        import $hostile

        __reload_data__ = {"SWAP"}
        KEEP = $hostile.Hostile("keep")
        SWAP = $hostile.Hostile("swap-%d")
        GRID = [$hostile.Hostile("grid")]
        MAP = {"k": $hostile.Hostile("map")}

        class K:
            _reload_data = {"CSWAP"}
            CKEEP = $hostile.Hostile("ckeep")
            CSWAP = $hostile.Hostile("cswap-%d")

            def f(self, a=$hostile.Hostile("default")):
                return %d

        def g(*, b=$hostile.Hostile("kwdefault")):
            return %d

        g.meta = $hostile.Hostile("attr")

        def make(h):
            def inner():
                return (h.tag, %d)
            return inner

        inner = make($hostile.Hostile("cell"))
    """
    m = mods.module("m", src % (1, 1, 1, 1, 1))
    keep, grid, ckeep = m.KEEP, m.GRID, m.K.CKEEP
    mods.write({"user.py": "from $m import SWAP, KEEP\n"})
    user = mods.imp("user")
    r = mods.update("m", src % (2, 2, 2, 2, 2))
    assert m.KEEP is keep and m.GRID is grid and m.K.CKEEP is ckeep
    assert m.SWAP.tag == "swap-2" and m.K.CSWAP.tag == "cswap-2"
    assert user.SWAP is m.SWAP and user.KEEP is keep
    assert m.K().f() == 2 and m.g() == 2 and m.inner() == ("cell", 2)
    assert m.g.meta.tag == "attr"
    assert mods.n("m.SWAP") in r.data_replaced
    assert mods.n("m.K.CSWAP") in r.data_replaced
    assert hostile.CALLS == []


def test_reload_all_data_with_hostile_values(mods, hostile):
    src = """
        import $hostile
        __reload_all_data__ = True
        ARR = $hostile.Hostile("%s")
    """
    m = mods.module("m", src % "a")
    mods.write({"user.py": "from $m import ARR\n"})
    user = mods.imp("user")
    mods.update("m", src % "b")
    assert m.ARR.tag == "b" and user.ARR is m.ARR
    assert hostile.CALLS == []


def test_functions_inside_a_replaced_container_run_new_code(mods):
    src = """
        __reload_data__ = {"HANDLERS"}

        def on_a():
            return "a%d"

        HANDLERS = [on_a]
    """
    m = mods.module("m", src % 1)
    mods.update("m", src % 2)
    assert [h() for h in m.HANDLERS] == ["a2"]


def test_sentinel_default_stays_the_kept_module_object(mods):
    # a default that is module data is the kept object, so `is` keeps working
    src = """
        _MISSING = object()

        def get(x=_MISSING):
            return "missing" if x is _MISSING else x %s
    """
    m = mods.module("m", src % "")
    missing, get = m._MISSING, m.get
    r = mods.update("m", src % "")
    assert m._MISSING is missing and get.__defaults__[0] is missing
    assert get() == "missing" and r.updated == ()
    mods.update("m", src % "* 2")
    assert get() == "missing" and get(3) == 6


def test_class_sentinel_default_stays_the_kept_class_object(mods):
    src = """
        class K:
            NOTHING = object()

            def pick(self, x=NOTHING):
                return "nothing" if x is K.NOTHING else x %s
    """
    m = mods.module("m", src % "")
    k, nothing = m.K(), m.K.NOTHING
    mods.update("m", src % "+ 1")
    assert m.K.NOTHING is nothing and k.pick() == "nothing" and k.pick(1) == 2


def test_opted_in_value_of_a_class_that_needs_a_restart_is_kept_and_listed(mods):
    # its new value is an instance of the new Vec, whose layout the kept
    # Vec cannot take: never a throwaway class's instance (SPEC §2.4)
    src = """
        class Vec:
            __slots__ = %s

            def __init__(self, x, y=0):
                self.x = x

        __reload_data__ = {"ORIGIN"}
        ORIGIN = Vec(%d)
    """
    m = mods.module("m", src % ('("x", "y")', 1))
    Vec, origin = m.Vec, m.ORIGIN
    r = mods.update("m", src % ('("x",)', 5))
    assert [q for q, _ in r.restart_required] == list(mods.ns("m.Vec", "m.ORIGIN"))
    assert m.Vec is Vec and m.ORIGIN is origin and type(origin) is Vec
    assert mods.n("m.ORIGIN") not in r.data_replaced


@pytest.mark.parametrize("where", ["module", "class"])
def test_a_bad_reload_data_declaration_is_an_error_and_changes_nothing(mods, where):
    def src(v, bad=""):
        return ("%sX = %d\n\nclass K:\n    %slevel = %d\n\n    def f(self):\n"
                "        return %d\n" % (bad if where == "module" else "", v,
                                         bad if where == "class" else "", v, v))
    m = mods.module("m", src(1))
    K, f = m.K, m.K.f
    mods.write({"m.py": src(2, "__reload_data__ = 5; ")})
    err = mods.fail("m")
    assert err.module == mods.n("m") and isinstance(err.__cause__, TypeError)
    assert "__reload_data__ must be a set" in str(err.__cause__)
    assert m.K is K and m.K.f is f and (m.X, K.level, K().f()) == (1, 1, 1)
    assert "__reload_data__" not in vars(m) and "__reload_data__" not in vars(K)


@pytest.mark.parametrize("spelling", ["__reload_data__", "_reload_data"])
def test_a_class_opt_in_added_by_the_new_source_counts_in_a_batch(mods, spelling):
    # the declaration follows the new source, also while a later batch
    # module reads the class (its data shows the kept values)
    src = "class Conf:\n    %s = %s\n    level = %d\n"
    mods.write({"b.py": src % (spelling, "set()", 1), "a.py": "import $b\n"})
    a, b = mods.imp("a"), mods.imp("b")
    mods.write({"b.py": src % (spelling, "{'level'}", 2),
                "a.py": "import $b\n__reload_data__ = {'SEEN'}\nSEEN = $b.Conf.level\n"})
    r = mods.reload(["a", "b"])
    assert a.SEEN == 2 and b.Conf.level == 2
    assert getattr(b.Conf, spelling) == {"level"}
    assert r.data_replaced == mods.ns("b.Conf.level")
