"""Demo hints for the city budget connector (batches come from PB and challenge approvals)."""

from __future__ import annotations

import os


async def load_demo(users: dict[str, int]) -> list[str]:
    """Nothing to insert: approving a PB result or a challenge selection fills the outbox."""
    from portal.settings import get_settings

    settings = get_settings()
    lines = [
        "City budget connector:",
        f"  pushes go to {settings.city_budget_url} (HANGANG_CITY_BUDGET_URL);"
        " run the reference city server there with `hangang city-sim`",
        "  with the same HANGANG_CITY_BUDGET_SECRET as the portal; deliveries: /officials/connector/",
    ]
    if settings.env == "development" and not os.environ.get("HANGANG_CITY_BUDGET_SECRET"):
        lines.append(
            f"  development secret kept in {settings.var_dir / 'city_budget_secret'}:"
            " `hangang city-sim` started from this folder uses it too"
        )
    if not settings.city_budget_secret:
        lines.append(
            "  HANGANG_CITY_BUDGET_SECRET is not set: batches wait in the outbox. Make one with"
            ' python -c "from portal.connector.signing import new_secret; print(new_secret())"'
        )
    return lines
