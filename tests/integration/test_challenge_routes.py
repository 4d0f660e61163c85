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


async def test_official_creates_an_edition_with_rounds_and_quotas(official):
    from judging.tables import Edition, Round

    form = {
        "name": "AI 50 Challenge 2027",
        "intake_opens_at": "2027-03-01T09:00",
        "intake_closes_at": "2027-04-30T18:00",
        "winners": "50",
        "max_per_organization": "1",
        "award_amount": "20000000",
        "seed": "",
        "quotas": '{"transportation": {"min": 5, "max": 12}}',
    }
    bad = await official.post_form(
        "/officials/challenge", {**form, "quotas": '{"space": {"min": 1, "max": 2}}'}
    )
    assert bad.status_code == 422 and "Unknown category space" in bad.text
    too_many = await official.post_form(
        "/officials/challenge", {**form, "quotas": '{"transportation": {"min": 60, "max": 70}}'}
    )
    assert too_many.status_code == 422
    not_an_object = await official.post_form("/officials/challenge", {**form, "quotas": "[]"})
    assert not_an_object.status_code == 422 and "must be a JSON object" in not_an_object.text
    assert await Edition.count() == 0
    created = await official.post_form("/officials/challenge", form)
    assert created.status_code == 303
    edition = await Edition.select().output(load_json=True).first()
    assert edition["quotas"] == {"transportation": {"min": 5, "max": 12}}
    assert edition["intake_closes_at"].hour == 9  # 18:00 in Seoul is 09:00 UTC
    kinds = [r["kind"] for r in await Round.select(Round.kind).order_by(Round.position)]
    assert kinds == ["screening", "evaluation", "final"]
    page = await official.get(created.headers["location"])
    assert page.status_code == 200 and "AI 50 Challenge 2027" in page.text
