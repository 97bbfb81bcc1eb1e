"""Benchmarks (``make bench``): every figure the issues ask for, written to var/bench.json."""
