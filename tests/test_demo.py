"""SPEC §3 examples: the game server's scripted demo, and its console."""

import os
import pathlib
import subprocess
import sys

import pytest

SERVER = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                      "examples", "game_server.py")
GAME = pathlib.Path(SERVER).parent / "game"


def game_sources():
    return {path.name: path.read_bytes() for path in sorted(GAME.glob("*.py"))}


def run(args, stdin=None):
    return subprocess.run([sys.executable, SERVER, *args], input=stdin, capture_output=True,
                          text=True, timeout=120, cwd=os.path.dirname(SERVER))


def test_demo_changes_code_and_keeps_state():
    sources = game_sources()
    done = run(["--demo"])
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    lines = out.splitlines()
    # before: the sword deals 10
    assert "tick 3: alice hits bob with sword for 10; bob hits alice with bow for 6" in lines
    # the console's reload, and its Report
    assert "> reload" in lines
    assert any(line.startswith("reloaded game.weapon in ") for line in lines)
    assert "  [U] game.weapon.Sword.damage" in lines
    # players kept health, inventory and identity across both reloads
    assert "  ok: alice: same object, 82 HP and inventory kept" in lines
    assert "  ok: bob: same object, 70 HP and inventory kept" in lines
    assert "  ok: same sword object, same Sword class" in lines
    # after: the new damage, from the existing sword object
    assert "tick 4: alice hits bob with sword for 15; bob hits alice with bow for 6" in lines
    # the watcher applied the second edit, polled from the tick loop
    assert "  [U] game.weapon.Bow.damage" in lines
    assert "tick 6: alice hits bob with sword for 15; bob hits alice with bow for 18" in lines
    assert "NOT OK" not in out
    assert lines[-1] == "demo done: code changed, state kept"
    assert done.stderr == ""
    # it edited a copy: the example itself is untouched
    assert game_sources() == sources


def test_console_commands_and_bad_input():
    done = run(["--tick", "30"], stdin="status bob\nreload game.nope\nreload\n"
                                       "give alice bow\ngive zed sword\nfly\nquit\n")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert "  bob: 100 HP, inventory [bow (level 1), 'map']" in lines or \
        "  bob: 90 HP, inventory [bow (level 1), 'map']" in lines
    assert "reload failed, nothing changed: module game.nope is not loaded" in lines
    assert any(line.startswith("reloaded nothing in ") for line in lines)
    assert any(line.startswith("  alice: ") and line.endswith("bow (level 1)]") for line in lines)
    assert any(line.startswith("usage: give PLAYER WEAPON") for line in lines)
    assert "unknown command 'fly'; type help" in lines


@pytest.mark.parametrize("args", [["--tick", "zero"], ["--bogus"]])
def test_bad_arguments(args):
    done = run(args)
    assert done.returncode == 2 and "usage" in done.stderr
