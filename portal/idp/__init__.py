"""The reference identity provider: a small OpenID Connect provider that stands in for phone verification.

Operators run it (``hangang idp-sim``) beside ``hangang serve`` to try phone verification; the tests run it
for real on 127.0.0.1. It keeps everything in memory. Fault knobs (``POST /_faults``) make the next
requests refuse, fail, slow down or hand out a tampered ID token; they exist only on loopback or with
``--faults``. See docs/identity.md for the contract.

``provider.py`` is the Authlib authorization server (code flow, PKCE S256, signed ID tokens),
``app.py`` the Litestar app with its endpoints and the person page, ``faults.py`` the knobs and
``testing.py`` runs it in a thread for tests.
"""
