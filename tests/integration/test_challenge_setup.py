"""Shared setup for the AI 50 Challenge integration tests (plus checks of the setup itself)."""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from judging.services import entries, intake
from judging.services.editions import (
    EditionForm,
    create_edition,
    default_rubric,
    rounds_of,
    update_round,
)
from judging.services.screening import decide_gate
from judging.tables import DEFAULT_GATES, Round
from portal import clock
from tests.helpers import PortalClient

# Valid business registration numbers (check digit verified).
VALID_BRNS = ("2208162517",)
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32


def valid_brn(index: int) -> str:
    """A valid registration number for any index: the first nine digits vary, the tenth is computed."""
    base = f"{220 + index:03d}81{index:04d}"[:9]
    values = [int(c) for c in base]
    total = (
        sum(v * w for v, w in zip(values, intake.BRN_WEIGHTS, strict=True)) + (values[8] * 5) // 10
    )
    return base + str((10 - total % 10) % 10)


def entry_form(
    title: str = "Bus arrival AI", category: str = "transportation", **overrides
) -> entries.EntryForm:
    values = dict(
        title=title,
        summary="Predicts bus arrivals.",
        problem="Waiting in the cold.",
        ai_approach="Gradient boosting.",
        data_protection="Only aggregated GPS data.",
        target_users="Commuters.",
        category=category,
        sector="public",
        districts=["11680"],
        team="Three engineers.",
        demo_url="https://demo.example.kr",
    )
    values.update(overrides)
    return entries.EntryForm(**values)


@dataclass
class Challenge:
    """An edition with organizations, submitted entries, and handles on its rounds."""

    edition_id: int
    official_id: int
    evaluation_round: int
    final_round: int
    organizations: list[int] = field(default_factory=list)
    entries: list[int] = field(default_factory=list)


async def make_edition(
    official_id: int, *, winners: int = 2, quotas: dict | None = None
) -> Challenge:
    now = clock.now()
    edition_id = await create_edition(
        official_id,
        EditionForm(
            name="AI 50 Challenge test",
            intake_opens_at=now - dt.timedelta(days=1),
            intake_closes_at=now + dt.timedelta(days=7),
            winners=winners,
            quotas=quotas or {},
            max_per_organization=1,
            seed=7,
        ),
    )
    rounds = {r["kind"]: r["id"] for r in await rounds_of(edition_id)}
    return Challenge(edition_id, official_id, rounds["evaluation"], rounds["final"])


async def add_entries(
    challenge: Challenge,
    owner_id: int,
    count: int,
    categories: tuple[str, ...] = ("transportation",),
) -> None:
    """``count`` organizations owned by ``owner_id``, one submitted entry each."""
    for i in range(count):
        org = await intake.create_organization(
            owner_id, f"Org {i}", valid_brn(len(challenge.organizations) + 1), "startup", "2020"
        )
        challenge.organizations.append(org)
        entry_id = await entries.create_entry(
            owner_id,
            org,
            challenge.edition_id,
            entry_form(f"Entry {i}", categories[i % len(categories)]),
        )
        await entries.submit_entry(owner_id, entry_id)
        challenge.entries.append(entry_id)


async def close_and_screen_in(challenge: Challenge) -> None:
    clock.advance(dt.timedelta(days=8))
    for entry_id in challenge.entries:
        for gate in DEFAULT_GATES:
            await decide_gate(challenge.official_id, entry_id, gate, True, "")


async def set_pool(
    challenge: Challenge, judge_ids: list[int], per_entry: int = 2, round_id: int | None = None
) -> None:
    round_id = round_id or challenge.evaluation_round
    row = await Round.select(Round.deadline).where(Round.id == round_id).first()
    await update_round(challenge.official_id, round_id, row["deadline"], per_entry, judge_ids)


@contextlib.asynccontextmanager
async def logged_in(app, account) -> AsyncIterator[PortalClient]:
    """Another signed-in browser (TOTP included for judges and officials)."""
    async with PortalClient.for_app(app) as client:
        await client.login(account)
        yield client


def scores(value: int) -> dict[str, int]:
    return {c["key"]: value for c in default_rubric()}


async def test_valid_brn_helper_makes_numbers_the_service_accepts():
    for i in range(1, 40):
        assert intake.normalise_registration_number(valid_brn(i)) == valid_brn(i)
    for number in VALID_BRNS:
        assert intake.normalise_registration_number(number) == number


async def relogin(*clients: PortalClient) -> None:
    """Sessions time out when a test moves the clock by days; sign the clients in again."""
    for client in clients:
        await client.login(client.account)
