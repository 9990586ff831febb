"""Sluice's benchmark suite: each script prints ratios measured in one run (see README.md)."""
