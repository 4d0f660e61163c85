"""PB services, one module per aggregate; the only place in ``voting`` with transactions.

``cycles`` (cycles, pots, the lifecycle), ``ballots`` (eligibility, casting, the caller's ballot,
receipts), ``ballot_writer`` (the group commit behind casting), ``results`` (counting and reading
results) and ``approvals`` (two officials approve, then the city push). Time comes from
``portal.clock``; money is int KRW.
"""
