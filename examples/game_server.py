#!/usr/bin/env python3
"""A game server whose code changes while it runs.

    python examples/game_server.py           a tick every 2 s; type `help`
    python examples/game_server.py --watch   edits also apply on their own, between ticks
    python examples/game_server.py --demo    scripted, no input: edit, reload, state kept

Edit examples/game/weapon.py (say, Sword.damage) while it runs and type
`reload`: the swords already in the players' inventories hit with the new
code, and every player keeps their health, inventory and identity.
"""

import argparse
import os
import queue
import shutil
import sys
import tempfile
import threading
import time
from typing import Callable, List, Optional

# First, so that every game module imported after it is stamped at its import
# and reloader.changed() knows exactly what was edited.
import reloader

HERE = os.path.dirname(os.path.abspath(__file__))

HELP = """commands:
  reload                reload every module whose source changed
  reload NAME [NAME..]  reload these modules (game.weapon, game.player, ...)
  status [PLAYER..]     players, health, inventories
  give PLAYER WEAPON    add a weapon (fists, sword, bow) to a player's inventory
  quit"""


class Console:
    """What an operator types while the server runs."""

    def __init__(self, world: "object", out: Callable[[str], None] = print) -> None:
        self.world = world
        self.out = out

    def handle(self, line: str) -> bool:
        """Run one command; False means quit."""
        words = line.split()
        if not words:
            return True
        command, args = words[0], words[1:]
        if command in ("quit", "exit"):
            return False
        handler = getattr(self, "do_" + command, None)
        if handler is None:
            self.out("unknown command %r; type help" % command)
        else:
            handler(args)
        return True

    def do_help(self, args: List[str]) -> None:
        self.out(HELP)

    def do_reload(self, args: List[str]) -> None:
        try:
            report = reloader.reload(args if args else None)
        except reloader.ReloadError as exc:
            self.out("reload failed, nothing changed: %s" % exc)
            return
        self.out(str(report))

    def do_status(self, args: List[str]) -> None:
        for name, player in self.world.players.items():
            if not args or name in args:
                self.out("  " + player.status())

    def do_give(self, args: List[str]) -> None:
        from game.weapon import ARMORY

        if len(args) != 2 or args[0] not in self.world.players or args[1] not in ARMORY:
            self.out("usage: give PLAYER WEAPON (players: %s; weapons: %s)"
                     % (", ".join(self.world.players), ", ".join(ARMORY)))
            return
        self.world.players[args[0]].inventory.append(ARMORY[args[1]]())
        self.do_status([args[0]])


def new_world():
    from game.player import Player
    from game.weapon import Bow, Sword
    from game.world import World

    world = World()
    alice = world.join(Player("alice"))
    alice.inventory += [Sword(), "potion"]
    bob = world.join(Player("bob"))
    bob.inventory += [Bow(), "map"]
    return world


def show_tick(world) -> None:
    print("tick %d: %s" % (world.ticks + 1, "; ".join(world.tick()) or "nobody to fight"))


# the interactive server ****************************************************


def serve(tick_seconds: float, watch: bool) -> int:
    sys.path.insert(0, HERE)
    world = new_world()
    console = Console(world)
    lines: "queue.Queue[Optional[str]]" = queue.Queue()
    threading.Thread(target=_read_stdin, args=(lines,), daemon=True).start()
    watcher = reloader.watch(interval=0.3) if watch else None
    print("game server running: edit %s/game/*.py, then type reload (help for more)" % HERE)
    try:
        next_tick = time.monotonic()
        while True:
            try:
                line = lines.get(timeout=max(0.0, next_tick - time.monotonic()))
            except queue.Empty:
                line = ""
            if line is None or not console.handle(line):
                return 0
            if time.monotonic() < next_tick:
                continue
            if watcher is not None:
                report = watcher.poll()  # once a tick, on the game's own thread
                if report is not None:
                    print(report)
            show_tick(world)
            if sum(p.alive for p in world.players.values()) < 2:
                for player in world.players.values():
                    player.health = 100
                print("everybody respawns")
            next_tick += tick_seconds
    finally:
        if watcher is not None:
            watcher.stop()


def _read_stdin(lines: "queue.Queue[Optional[str]]") -> None:
    for line in sys.stdin:
        lines.put(line)
    lines.put(None)


# the scripted demo *********************************************************


def demo() -> int:
    tmp = tempfile.mkdtemp(prefix="reloader-demo-")
    try:
        shutil.copytree(os.path.join(HERE, "game"), os.path.join(tmp, "game"),
                        ignore=shutil.ignore_patterns("__pycache__"))
        sys.path.insert(0, tmp)
        return run_demo(os.path.join(tmp, "game"))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def edit(path: str, old: str, new: str) -> None:
    with open(path) as fh:
        text = fh.read()
    assert old in text, "%s does not contain %r" % (path, old)
    with open(path, "w") as fh:
        fh.write(text.replace(old, new))


def run_demo(game_dir: str) -> int:
    print("reloader demo: a game server whose code changes while it runs")
    print("(the demo edits a copy of examples/game in %s)" % game_dir)
    world = new_world()
    console = Console(world)
    for _ in range(3):
        show_tick(world)
    console.do_status([])

    alice, bob = world.players["alice"], world.players["bob"]
    sword, bow = alice.inventory[0], bob.inventory[0]
    Sword = type(sword)
    before = snapshot(world)

    print("\nedit game/weapon.py: Sword.damage() 10 -> 15 per level")
    edit(os.path.join(game_dir, "weapon.py"), "return 10 * self.level",
         "return 15 * self.level")
    print("> reload")
    console.handle("reload")
    ok = check_state_kept(world, before)
    ok &= verdict("same sword object, same Sword class", type(sword) is Sword
                  and alice.inventory[0] is sword)
    ok &= verdict("the sword now deals %d" % sword.damage(world.ticks), sword.damage(0) == 15)
    show_tick(world)
    before = snapshot(world)

    print("\nedit game/weapon.py: Bow.damage() triples on even ticks; no command typed:")
    print("a Watcher notices the save, and the tick loop calls watcher.poll() once a tick")
    with reloader.watch(interval=0.2) as watcher:
        edit(os.path.join(game_dir, "weapon.py"), "return 6 * self.level",
             "return (18 if tick % 2 == 0 else 6) * self.level")
        report = None
        deadline = time.monotonic() + 20
        while report is None and time.monotonic() < deadline:
            time.sleep(0.02)  # a frame of the game loop
            report = watcher.poll()
    print(report if report is not None else "the watcher saw no edit")
    ok &= verdict("the watcher applied the edit", report is not None)
    ok &= check_state_kept(world, before)
    ok &= verdict("the bow now deals %d on tick 6" % bow.damage(6), bow.damage(6) == 18)
    for _ in range(2):
        show_tick(world)
    console.do_status([])
    print("\ndemo %s" % ("done: code changed, state kept" if ok else "FAILED"))
    return 0 if ok else 1


def snapshot(world) -> dict:
    return {p.name: (p, p.health, p.inventory, list(p.inventory))
            for p in world.players.values()}


def check_state_kept(world, before) -> bool:
    ok = True
    for name, (player, health, inventory, items) in before.items():
        ok &= verdict("%s: same object, %d HP and inventory kept" % (name, player.health),
                      world.players[name] is player and player.health == health
                      and player.inventory is inventory
                      and all(a is b for a, b in zip(player.inventory, items)))
    return ok


def verdict(what: str, ok: bool) -> bool:
    print("  %s %s" % ("ok:" if ok else "NOT OK:", what))
    return ok


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--demo", action="store_true",
                        help="run the scripted demo without input and exit")
    parser.add_argument("--watch", action="store_true",
                        help="apply edits on their own, between two ticks")
    parser.add_argument("--tick", type=float, default=2.0, metavar="SECONDS",
                        help="seconds between ticks (default 2)")
    options = parser.parse_args(argv)
    if options.demo:
        return demo()
    return serve(options.tick, options.watch)


if __name__ == "__main__":
    sys.exit(main())
