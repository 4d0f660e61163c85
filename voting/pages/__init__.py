"""PB's HTML pages by audience: ``citizens`` (cycles, ballots, receipts, results) and ``officials``."""
