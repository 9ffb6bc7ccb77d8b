"""Benchmarks that print tables; run them with ``python -m bench.<name>``. Not part of the tests."""
