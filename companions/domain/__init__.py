"""Pure companion domain: affinity arithmetic, the ghost check and the decision engine.

Standard library only: no Django, no I/O, no imports from other project packages (enforced
by the import-linter contract in pyproject.toml). Every function takes `now` and its other
inputs as arguments and returns values. Reference eros-engine-core.md §1.
"""
