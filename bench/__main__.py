"""Placeholder: benchmarks are added by each issue's work."""

print("no benchmarks yet")
