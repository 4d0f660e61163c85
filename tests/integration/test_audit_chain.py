"""The keyed audit chain and its anchors (A6): an edited event, a chain recomputed without the key and a
truncated tail are each reported; events chained before the key existed still verify."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json

from portal import audit
from portal.canonical import canonical_json
from portal.db import raw, write_transaction
from portal.tables import AuditEvent


async def hangang(*args: str) -> tuple[int, str]:
    """Run a ``hangang`` command in this process (a thread with its own event loop): (exit code, stdout)."""
    import contextlib
    import io

    import anyio

    from portal.cli import main

    def run() -> tuple[int, str]:
        out = io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
            code = main(list(args))
        return code, out.getvalue()

    return await anyio.to_thread.run_sync(run)


async def record_events(count: int) -> None:
    for number in range(count):
        async with write_transaction():
            await audit.record("test.event", subject=f"thing:{number}", number=number)


def body_of(row: dict) -> dict:
    details = row["details"] if isinstance(row["details"], dict) else json.loads(row["details"])
    return audit._event_body(row["occurred_at"], row["actor_id"], row["action"], row["subject"], details)


async def rechain_from(start_index: int, hash_of) -> None:
    """What an insider with database access but no key does: recompute every hash after an edit."""
    rows = await AuditEvent.select().order_by(AuditEvent.id)
    prev = rows[start_index - 1]["hash"] if start_index else audit.GENESIS
    for row in rows[start_index:]:
        new_hash = hash_of(prev, body_of(row))
        await raw("UPDATE portal_audit_event SET prev_hash = {}, hash = {} WHERE id = {}", prev, new_hash, row["id"])
        prev = new_hash


def sha256_chain(prev: str, body: dict) -> str:
    return hashlib.sha256((prev + canonical_json(body)).encode()).hexdigest()


async def test_events_are_chained_with_an_hmac_under_the_audit_key():
    await record_events(3)
    rows = await AuditEvent.select().order_by(AuditEvent.id)
    assert all(row["chain_version"] == audit.KEYED for row in rows)
    assert rows[0]["hash"] != sha256_chain(audit.GENESIS, body_of(rows[0]))  # not the old unkeyed hash
    result = await audit.verify_chain()
    assert result.ok and result.events == 3


async def test_an_edited_event_is_reported():
    await record_events(4)
    rows = await AuditEvent.select(AuditEvent.id).order_by(AuditEvent.id)
    await raw("UPDATE portal_audit_event SET details = {} WHERE id = {}", '{"number":99}', rows[2]["id"])
    result = await audit.verify_chain()
    assert not result.ok and result.broken_at == rows[2]["id"] and result.events == 2
    assert "altered" in result.problem


async def test_a_chain_recomputed_without_the_key_is_reported():
    await record_events(4)
    rows = await AuditEvent.select(AuditEvent.id).order_by(AuditEvent.id)
    await raw("UPDATE portal_audit_event SET subject = {} WHERE id = {}", "thing:forged", rows[1]["id"])
    # 1. Re-hashed with plain SHA-256, keeping the keyed version number.
    await rechain_from(1, sha256_chain)
    result = await audit.verify_chain()
    assert not result.ok and result.broken_at == rows[1]["id"]
    assert "recomputed without the key" in result.problem
    # 2. Downgraded: every event marked as an old unkeyed one, the whole chain re-hashed.
    await raw("UPDATE portal_audit_event SET chain_version = {}", audit.LEGACY_UNKEYED)
    await rechain_from(0, sha256_chain)
    downgraded = await audit.verify_chain()
    assert not downgraded.ok and "recomputed without the key" in downgraded.problem
    # 3. Re-keyed with a guessed key.
    await raw("UPDATE portal_audit_event SET chain_version = {}", audit.KEYED)
    guessed = b"a guessed key"
    await rechain_from(0, lambda prev, body: hmac.new(guessed, (prev + canonical_json(body)).encode(), "sha256").hexdigest())
    rekeyed = await audit.verify_chain()
    assert not rekeyed.ok and rekeyed.broken_at == rows[0]["id"] and "another key" in rekeyed.problem


async def test_a_truncated_tail_is_reported_against_the_last_anchor(tmp_path):
    await record_events(5)
    anchors = tmp_path / "anchors.jsonl"
    code, output = await hangang("audit", "anchor", "--file", str(anchors))
    assert code == 0, output
    await record_events(3)
    code, output = await hangang("audit", "anchor", "--file", str(anchors))
    assert code == 0 and "anchored event 8" in output
    lines = anchors.read_text().splitlines()
    assert len(lines) == 2 and json.loads(lines[0])["sequence"] == 5  # appended, not rewritten
    code, output = await hangang("audit", "verify", "--anchors", str(anchors))
    assert code == 0 and "ok 8 events, 2 anchors match" in output

    # Delete the last two events: the remaining chain is internally consistent...
    tail = await AuditEvent.select(AuditEvent.id).order_by(AuditEvent.id, ascending=False).limit(2)
    await raw("DELETE FROM portal_audit_event WHERE id IN ({}, {})", tail[0]["id"], tail[1]["id"])
    assert (await audit.verify_chain()).ok
    # ...but the anchor counted 8 events.
    code, output = await hangang("audit", "verify", "--anchors", str(anchors))
    assert code == 1
    assert "truncated" in output and "counts 8 events, the chain has 6" in output


async def test_a_forged_or_edited_anchor_is_reported(tmp_path):
    await record_events(2)
    path = tmp_path / "anchors.jsonl"
    anchor = await audit.append_anchor(path)
    assert (await audit.verify_chain(audit.read_anchors(path))).ok
    forged = {**anchor, "sequence": 1}
    path.write_text(json.dumps(forged) + "\n")
    result = await audit.verify_chain(audit.read_anchors(path))
    assert not result.ok and "not signed with this audit key" in result.problem


async def test_rewritten_history_before_an_anchor_is_reported_even_when_the_count_matches(tmp_path):
    await record_events(3)
    path = tmp_path / "anchors.jsonl"
    await audit.append_anchor(path)
    # Someone with the key re-chains an edited history: verify alone passes, the anchor does not.
    rows = await AuditEvent.select(AuditEvent.id).order_by(AuditEvent.id)
    await raw("UPDATE portal_audit_event SET subject = {} WHERE id = {}", "thing:rewritten", rows[0]["id"])
    await rechain_from(0, lambda prev, body: audit.chain_hash(prev, body))
    assert (await audit.verify_chain()).ok
    result = await audit.verify_chain(audit.read_anchors(path))
    assert not result.ok and "differs from the anchor" in result.problem


async def insert_legacy_events(count: int) -> str:
    """Events as the portal wrote them before the key existed: unkeyed SHA-256, chain_version 1."""
    prev = audit.GENESIS
    start = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
    for number in range(count):
        occurred_at = start + dt.timedelta(minutes=number)
        body = audit._event_body(occurred_at, None, "legacy.event", f"old:{number}", {"n": number})
        new_hash = sha256_chain(prev, body)
        await AuditEvent.insert(
            AuditEvent(
                occurred_at=occurred_at, actor_id=None, action="legacy.event", subject=f"old:{number}",
                details=canonical_json({"n": number}), prev_hash=prev, hash=new_hash,
                chain_version=audit.LEGACY_UNKEYED,
            )
        )
        prev = new_hash
    return prev


async def test_events_chained_before_the_key_still_verify_once_sealed():
    legacy_head = await insert_legacy_events(3)
    unsealed = await audit.verify_chain()
    assert not unsealed.ok and "only unkeyed events" in unsealed.problem  # hangang migrate seals it
    code, output = await hangang("migrate")
    assert code == 0, output
    seal = await AuditEvent.select().order_by(AuditEvent.id, ascending=False).first()
    assert seal["action"] == audit.SEAL_ACTION and seal["chain_version"] == audit.KEYED
    details = json.loads(seal["details"]) if isinstance(seal["details"], str) else seal["details"]
    assert details == {"legacy_events": 3, "legacy_head": legacy_head}
    await record_events(2)
    result = await audit.verify_chain()
    assert result.ok and result.events == 6
    assert legacy_head in result.heads  # heads quoted by old exports are still found
    assert await audit.seal_legacy_chain() is False  # sealing twice does nothing

    # An old, unkeyed event edited and its unkeyed successors re-hashed: the keyed seal no longer matches.
    rows = await AuditEvent.select(AuditEvent.id).order_by(AuditEvent.id)
    await raw("UPDATE portal_audit_event SET subject = {} WHERE id = {}", "old:forged", rows[1]["id"])
    await rechain_from(1, lambda prev, body: sha256_chain(prev, body))
    await raw("UPDATE portal_audit_event SET chain_version = {} WHERE id <= {}", audit.LEGACY_UNKEYED, rows[2]["id"])
    broken = await audit.verify_chain()
    assert not broken.ok and broken.broken_at == rows[3]["id"]


async def test_record_seals_an_unsealed_legacy_chain_itself():
    await insert_legacy_events(2)
    await record_events(1)
    actions = [row["action"] for row in await AuditEvent.select(AuditEvent.action).order_by(AuditEvent.id)]
    assert actions == ["legacy.event", "legacy.event", audit.SEAL_ACTION, "test.event"]
    assert (await audit.verify_chain()).ok


async def test_checkpoint_is_the_count_and_the_head():
    assert await audit.checkpoint() == audit.Checkpoint(0, audit.GENESIS)
    await record_events(2)
    point = await audit.checkpoint()
    assert point == audit.Checkpoint(2, await audit.head())


# ---------------------------------------------------------------- unlinked events and the sealer


async def record_unlinked_events(count: int, start: int = 0) -> None:
    for number in range(start, start + count):
        async with write_transaction():
            await audit.record_unlinked("test.station", actor_id=7, subject=f"pb-station:{number % 3}", number=number)


async def test_unlinked_events_wait_intact_and_a_crash_before_the_seal_loses_nothing():
    await record_events(2)
    await record_unlinked_events(5)
    # A worker "crashed" after these committed and before any seal: they are all there, HMAC intact.
    waiting = await audit.verify_chain()
    assert waiting.ok and waiting.events == 2 and waiting.unlinked == 5
    assert (await audit.checkpoint()).sequence == 2  # anchors count chained events only
    # Any worker's sealer (a fresh process would do the same) chains them, oldest first, and nothing is lost.
    assert await audit.seal_pending() == 5
    assert await audit.seal_pending() == 0
    result = await audit.verify_chain()
    assert result.ok and result.events == 7 and result.unlinked == 0
    rows = await AuditEvent.select().order_by(AuditEvent.id)
    assert [r["action"] for r in rows] == ["test.event"] * 2 + ["test.station"] * 5
    assert [json.loads(r["details"])["number"] for r in rows[2:]] == [0, 1, 2, 3, 4]
    assert {r["chain_version"] for r in rows} == {audit.KEYED} and rows[-1]["hash"] == await audit.head()


async def test_sealing_in_a_batch_that_rolls_back_leaves_every_event_waiting(monkeypatch):
    await record_unlinked_events(3)

    async def crash(*args, **kwargs):
        raise RuntimeError("worker killed mid-seal")

    monkeypatch.setattr(audit, "_append_at", crash)
    try:
        await audit.seal_pending()
    except RuntimeError:
        pass
    monkeypatch.undo()
    assert (await audit.verify_chain()).unlinked == 3
    assert await audit.seal_pending() == 3 and (await audit.verify_chain()).events == 3


async def test_an_unlinked_event_edited_while_it_waits_is_reported_and_never_chained():
    await record_unlinked_events(3)
    rows = await AuditEvent.select().order_by(AuditEvent.id)
    await raw("UPDATE portal_audit_event SET subject = {} WHERE id = {}", "pb-station:99", rows[1]["id"])
    result = await audit.verify_chain()
    assert not result.ok and result.broken_at == rows[1]["id"] and "waiting to be chained was altered" in result.problem
    assert await audit.seal_pending() == 2  # the altered one stays where it is, still reported
    assert (await audit.verify_chain()).broken_at == rows[1]["id"]
    # A forged unlinked event (no key) is reported the same way.
    await raw("DELETE FROM portal_audit_event WHERE id = {}", rows[1]["id"])
    assert (await audit.verify_chain()).ok
    await raw(
        "INSERT INTO portal_audit_event (occurred_at, actor_id, action, subject, details, prev_hash, hash, chain_version) "
        "VALUES ({}, NULL, 'test.forged', '', {}, '', {}, 3)",
        rows[0]["occurred_at"], "{}", "f" * 64,
    )
    assert "waiting to be chained was altered" in (await audit.verify_chain()).problem


async def test_once_chained_an_edited_or_deleted_station_event_is_reported():
    await record_events(1)
    await record_unlinked_events(4)
    await audit.seal_pending()
    rows = await AuditEvent.select().order_by(AuditEvent.id)
    original = rows[2]["details"]
    await raw("UPDATE portal_audit_event SET details = {} WHERE id = {}", '{"number": 9}', rows[2]["id"])
    edited = await audit.verify_chain()
    assert not edited.ok and edited.broken_at == rows[2]["id"] and "altered" in edited.problem
    await raw("UPDATE portal_audit_event SET details = {} WHERE id = {}", original, rows[2]["id"])
    assert (await audit.verify_chain()).ok
    await raw("DELETE FROM portal_audit_event WHERE id = {}", rows[2]["id"])
    deleted = await audit.verify_chain()
    assert not deleted.ok and deleted.broken_at == rows[3]["id"] and "deleted" in deleted.problem
    # Turning a chained event back into a "waiting" one to drop it from the chain breaks the next link.
    await raw("UPDATE portal_audit_event SET chain_version = 3, prev_hash = '' WHERE id = {}", rows[3]["id"])
    assert not (await audit.verify_chain()).ok


async def test_concurrent_station_events_and_chained_events_end_in_one_unbroken_chain():
    import asyncio

    async def station(n: int) -> None:
        await record_unlinked_events(5, start=100 * n)

    async def sealer() -> None:
        for _ in range(10):
            await audit.seal_pending(limit=7)
            await asyncio.sleep(0)

    await asyncio.gather(*(station(n) for n in range(4)), record_events(5), sealer())
    while await audit.seal_pending():
        pass
    result = await audit.verify_chain()
    assert result.ok and result.events == 25 and result.unlinked == 0
    numbers = [json.loads(r["details"])["number"] for r in await AuditEvent.select().where(AuditEvent.action == "test.station")]
    assert sorted(numbers) == sorted(100 * n + i for n in range(4) for i in range(5))
