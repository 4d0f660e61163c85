"""Unique indexes that stop double ballots (V1) and double approvals (V8).

Raw statements run before a migration's tables are created, so they live in
their own migration after the one that creates the tables.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-11-28T20:58:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "unique indexes for ballots, voter records and approvals"

UNIQUE_INDEXES = (
    "CREATE UNIQUE INDEX pb_ballot_pot_voter_key ON pb_ballot (pot, voter_key)",
    'CREATE UNIQUE INDEX pb_voter_record_pot_user ON pb_voter_record (pot, "user")',
    "CREATE UNIQUE INDEX pb_result_approval_cycle_official ON pb_result_approval (cycle, official)",
)


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="voting", description=DESCRIPTION)

    async def unique_indexes():
        engine = engine_finder()
        for sql in UNIQUE_INDEXES:
            await engine.run_ddl(sql)

    manager.add_raw(unique_indexes)
    return manager
