"""Benchmarks of the course: `make bench` (python -m bench) records results in bench/results.md."""
