"""Benchmarks run side by side in one process tree: `python -m bench.run` (not unit tests)."""
