"""Containers the new code fills (SPEC §1, §3, §4): a default, a cell, new
or replaced data hold the kept classes, functions and enum members, never
the throwaway copies the new module code made."""

from __future__ import annotations

ENUM_AND_CLASSES = """
    import enum

    class Kind(enum.Enum):
        ORC = 1
        TROLL = 2

    class Weapon:
        pass

    class Armor:
        pass

"""


def test_default_tuples_hold_kept_classes_and_members(mods):
    src = ENUM_AND_CLASSES + """
    def spawn(kinds=(Kind.ORC, Kind.TROLL)):
        return [k is Kind.ORC for k in kinds]

    def can_equip(x, allowed=(Weapon, (Armor,)), *, first=frozenset([Kind.ORC])):
        return isinstance(x, allowed[0]) and Kind.ORC in first

    VERSION = 1
    """
    m = mods.module("m", src)
    Kind, Weapon, Armor = m.Kind, m.Weapon, m.Armor
    orc, sword = m.Kind.ORC, m.Weapon()
    r = mods.update("m", src.replace("VERSION = 1", "VERSION = 2"))
    assert m.Kind is Kind and m.Kind.ORC is orc and m.Weapon is Weapon
    assert m.spawn() == [True, False]
    assert m.can_equip(sword) is True
    kinds = m.spawn.__defaults__[0]
    assert kinds[0] is orc and kinds[1] is Kind.TROLL
    allowed = m.can_equip.__defaults__[0]
    assert allowed[0] is Weapon and allowed[1][0] is Armor
    assert next(iter(m.can_equip.__kwdefaults__["first"])) is orc
    assert r.updated == ()  # nothing but data changed


def test_cells_of_a_decorator_factory_hold_kept_classes(mods):
    src = ENUM_AND_CLASSES + """
    def accepts(*types):
        def deco(fn):
            def wrapper(x):
                return fn(x) if isinstance(x, types) else "rejected"
            return wrapper
        return deco

    @accepts(Weapon, Armor)
    def equip(x):
        return "equipped1"
    """
    m = mods.module("m", src)
    held, sword = m.equip, m.Weapon()
    mods.update("m", src.replace("equipped1", "equipped2"))
    assert m.equip is held
    assert held(sword) == "equipped2"
    assert held(object()) == "rejected"


def test_replaced_data_keys_and_items_are_kept_objects(mods):
    src = ENUM_AND_CLASSES + """
    __reload_data__ = {"HANDLERS", "XP", "ORDER", "SEEN"}

    def use_weapon(x):
        return "weapon1"

    HANDLERS = {Weapon: use_weapon, "plain": 1}
    XP = {Kind.ORC: 10, Kind.TROLL: 20}
    ORDER = [Kind.TROLL, [Weapon]]
    SEEN = {Kind.ORC, Armor}
    """
    m = mods.module("m", src)
    Weapon, Armor, orc, troll = m.Weapon, m.Armor, m.Kind.ORC, m.Kind.TROLL
    use = m.use_weapon
    r = mods.update("m", src.replace("weapon1", "weapon2").replace("10", "15"))
    assert sorted(r.data_replaced) == sorted(mods.ns("m.HANDLERS", "m.XP", "m.ORDER",
                                                     "m.SEEN"))
    assert m.HANDLERS[Weapon] is use and use(None) == "weapon2"
    assert list(m.HANDLERS) == ["plain", Weapon]  # a moved key goes last
    assert list(m.XP) == [orc, troll] and m.XP[orc] == 15  # all moved: order kept
    assert m.ORDER[0] is troll and m.ORDER[1][0] is Weapon
    assert m.SEEN == {orc, Armor}


def test_new_names_and_class_attributes_hold_kept_objects(mods):
    src = ENUM_AND_CLASSES + """
    class Shop:
        pass
    """
    m = mods.module("m", src)
    Weapon, orc = m.Weapon, m.Kind.ORC
    r = mods.update("m", src.replace("class Shop:\n        pass", """class Shop:
        SELLS = (Weapon,)

    STAFF = [Kind.ORC]
    ALLOWED = (Weapon, Kind.ORC)

    def check(x, allowed=ALLOWED):
        return allowed"""))
    assert m.Shop.SELLS[0] is Weapon
    assert m.STAFF[0] is orc
    assert m.ALLOWED == (Weapon, orc) and m.ALLOWED[0] is Weapon
    assert m.check(None) is m.ALLOWED  # one copy wherever the new code shared it
    assert sorted(r.added) == sorted(mods.ns("m.Shop.SELLS", "m.STAFF", "m.ALLOWED",
                                             "m.check"))


def test_singledispatch_on_a_class_of_the_module(mods):
    src = """
    import functools

    class Weapon:
        pass

    @functools.singledispatch
    def describe(x):
        return "thing1"

    @describe.register
    def _(x: Weapon):
        return "weapon1"
    """
    m = mods.module("m", src)
    held, sword = m.describe, m.Weapon()
    assert held(sword) == "weapon1"
    mods.update("m", src.replace("weapon1", "weapon2").replace("thing1", "thing2"))
    assert m.describe is held
    assert held(sword) == "weapon2" and held(1) == "thing2"


KEYS = """
    class Key:
        hashed = 0

        def __hash__(self):
            Key.hashed += 1
            return 7

        def __eq__(self, other):
            raise AssertionError("compared by the reload")

    KEY = Key()
"""


def test_user_keys_are_never_hashed(mods):
    keys = mods.module("keys", KEYS)
    src = ENUM_AND_CLASSES + """
    from $keys import KEY
    __reload_data__ = {"TABLE"}
    TABLE = {KEY: (Weapon,), Weapon: KEY}
    """
    m = mods.module("m", src)
    Weapon = m.Weapon
    before = keys.Key.hashed
    mods.update("m", src.replace("ORC = 1", "ORC = 1  # edited"))
    assert keys.Key.hashed == before + 1  # the new module code's own dict display
    assert m.TABLE[Weapon] is keys.KEY  # the class key moved to the kept class
    # the value under the user key keeps the tuple the new code made
    (value,) = [v for k, v in m.TABLE.items() if k is keys.KEY]
    assert value[0] is not Weapon and value[0].__name__ == "Weapon"


def test_int_enum_keys_equal_to_their_kept_members_are_not_lost(mods):
    src = """
    import enum

    class Level(enum.IntEnum):
        LOW = 1
        HIGH = 2

    __reload_data__ = {"XP", "SEEN"}
    XP = {Level.LOW: 10, Level.HIGH: 20}
    SEEN = {Level.LOW}
    """
    m = mods.module("m", src)
    low, high = m.Level.LOW, m.Level.HIGH
    mods.update("m", src.replace("10", "15"))
    assert list(m.XP.items()) == [(low, 15), (high, 20)]
    assert [k for k in m.XP if k is low] == [low]  # the kept member is the key
    assert m.SEEN == {low} and next(iter(m.SEEN)) is low
