"""The world: who is here, and what happens each tick."""

from typing import Dict, List

from game.player import Player


class World:
    def __init__(self) -> None:
        self.players: Dict[str, Player] = {}
        self.ticks = 0

    def join(self, player: Player) -> Player:
        self.players[player.name] = player
        return player

    def tick(self) -> List[str]:
        """Every living player attacks the next living one."""
        self.ticks += 1
        living = [p for p in self.players.values() if p.alive]
        events = []
        for i, player in enumerate(living):
            if len(living) > 1 and player.alive:
                events.append(player.attack(living[(i + 1) % len(living)], self.ticks))
        return events
