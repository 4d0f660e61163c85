"""The reference city server: a small standalone adapter that implements contract v1.

City IT teams run it (``hangang city-sim``) to see what the portal sends; the tests run it for real
on 127.0.0.1. It keeps its own SQLite file (stdlib ``sqlite3``) and never touches the portal
database. Fault knobs (``POST /_faults``) make the next requests fail, slow down, drop the
connection or redirect, for tests and rehearsals; they exist only on loopback or with ``--faults``.

``app.py`` builds the server, ``handlers.py`` answers the contract's endpoints, ``ledger.py`` keeps
the batches, ``envelopes.py`` the districts' budgets, ``faults.py`` the knobs and ``problems.py``
the RFC 9457 refusals.
"""
