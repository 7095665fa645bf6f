"""Weapons. Change a damage() method while the server runs, then ``reload``:
every sword already in a player's inventory hits with the new code."""


class Weapon:
    name = "fists"

    def __init__(self, level: int = 1) -> None:
        self.level = level

    def damage(self, tick: int) -> int:
        return 2 * self.level

    def __repr__(self) -> str:
        return "%s (level %d)" % (self.name, self.level)


class Sword(Weapon):
    name = "sword"

    def damage(self, tick: int) -> int:
        return 10 * self.level


class Bow(Weapon):
    name = "bow"

    def damage(self, tick: int) -> int:
        return 6 * self.level


ARMORY = {cls.name: cls for cls in (Weapon, Sword, Bow)}
