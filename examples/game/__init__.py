"""A tiny game whose code can change while it runs: edit weapon.py or
player.py while ``python examples/game_server.py`` runs, then type ``reload``."""
