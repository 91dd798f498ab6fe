"""Benchmarks: run by hand (`python -m bench.engine`), never part of the test suite."""
