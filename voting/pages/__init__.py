"""PB's HTML pages by audience: ``citizens`` (cycles, ballots, receipts, results) and ``officials``;
``cycle_header`` has the top of every cycle's page (proposals' pages use it too)."""
