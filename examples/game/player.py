"""Players: state (health, inventory) that must survive every reload."""

from typing import List, Union

from game.weapon import Weapon

Item = Union[Weapon, str]


class Player:
    def __init__(self, name: str, health: int = 100) -> None:
        self.name = name
        self.health = health
        self.inventory: List[Item] = []

    @property
    def alive(self) -> bool:
        return self.health > 0

    def weapon(self, tick: int) -> Weapon:
        weapons = [item for item in self.inventory if isinstance(item, Weapon)]
        return max(weapons, key=lambda w: w.damage(tick), default=Weapon())

    def attack(self, other: "Player", tick: int) -> str:
        weapon = self.weapon(tick)
        hit = weapon.damage(tick)
        other.health = max(0, other.health - hit)
        return "%s hits %s with %s for %d" % (self.name, other.name, weapon.name, hit)

    def status(self) -> str:
        return "%s: %d HP, inventory %s" % (self.name, self.health, self.inventory)
