"""The challenge's pure computation: the rubric, judge assignment, score calibration and selection under quotas.

Plain data in, plain data out: no database, no HTTP, so tests, the CLI and benchmarks call it directly.
"""
