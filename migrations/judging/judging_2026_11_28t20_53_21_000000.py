"""Composite unique indexes (raw SQL runs before table creation in a migration, so they come second)."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-11-28T20:53:21:000000"
VERSION = "1.38.0"
DESCRIPTION = "challenge composite unique indexes"

STATEMENTS = (
    'CREATE UNIQUE INDEX IF NOT EXISTS challenge_member_unique ON challenge_organization_member (organization, "user")',
    "CREATE UNIQUE INDEX IF NOT EXISTS challenge_assignment_unique ON challenge_assignment (round, entry, judge)",
    "CREATE UNIQUE INDEX IF NOT EXISTS challenge_review_unique ON challenge_review (round, entry, judge)",
    "CREATE UNIQUE INDEX IF NOT EXISTS challenge_screening_unique ON challenge_screening_decision (entry, gate)",
    "CREATE UNIQUE INDEX IF NOT EXISTS challenge_approval_unique ON challenge_selection_approval (selection, official)",
    "CREATE UNIQUE INDEX IF NOT EXISTS challenge_conflict_unique ON challenge_conflict (judge, organization, kind)",
)


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="judging", description=DESCRIPTION)

    async def composite_unique_indexes():
        # One row per pair: members, assignments, reviews, gate decisions, approvals, declared conflicts.
        from portal.db import raw

        for statement in STATEMENTS:
            await raw(statement)

    manager.add_raw(composite_unique_indexes)
    return manager
