"""Generated-edit testing for reloader: a hypothesis model of a module in two
versions (model.py), its rendering as source (render.py), probes that turn
calls into comparable values (probe.py) and the round trip A -> B -> A with
every check (check.py)."""
