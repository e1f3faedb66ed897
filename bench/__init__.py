"""Benchmarks: ``python -m bench`` prints tables with ratios against references measured in the same run."""
