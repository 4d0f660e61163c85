"""Every AI 50 Challenge GET route answers without a server error, even for absurd ids (S16, S22)."""

from __future__ import annotations

import re

from tests.helpers import PortalClient

HUGE = "9908433246734030322270208"


async def test_challenge_get_routes_never_fail_with_a_server_error(app, users):
    everyone = await users.create(
        roles=["admin", "official", "judge", "startup", "citizen"], verified=True
    )
    failures = []
    async with PortalClient.for_app(app) as c:
        await c.login(everyone)
        for route in app.routes:
            if "GET" not in getattr(route, "methods", set()) or not re.search(
                r"challenge|judging", route.path
            ):
                continue
            for number in ("1", HUGE, "-5"):
                path = re.sub(r"\{[^}]*:int\}", number, route.path)
                path = re.sub(r"\{[^}]*:str\}", "x", path)
                for headers in ({}, {"accept": "application/json"}):
                    response = await c.get(path, headers=headers)
                    if response.status_code >= 500:
                        failures.append((path, response.status_code))
    assert not failures, failures


async def test_officials_hub_links_to_the_challenge(official):
    hub = await official.get("/officials")
    assert hub.status_code == 200 and 'href="/officials/challenge"' in hub.text
