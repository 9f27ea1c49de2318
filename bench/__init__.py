"""Benchmarks (see README.md, "Benchmarks"); a package so that mypy names each module once."""
