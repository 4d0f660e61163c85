"""PB's pure computation: ballot rules, the tally engine and its kernel, results with explanations, pabulib files.

Plain data in, plain data out: no database, no HTTP, so tests, the CLI and benchmarks call it directly.
"""
