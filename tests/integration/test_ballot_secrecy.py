"""Issue 10 / V5: nobody with a copy of the database (or of the logs) can link a ballot to its voter.

Known voters cast ballots through the pages and the API, one request at a time (the worst case:
every cast its own transaction), some replace theirs later, then every attack below is run with
database access only, before and after the mixer's round:

* xmin equality: a ballot's transaction id against every row that names a user (sessions, audit
  events, users) and the turnout counts (PostgreSQL);
* xmin adjacency: the user-naming row written just before a ballot, and just after (PostgreSQL);
* ballot id order, physical order (``ctid`` on PostgreSQL, ``rowid`` on SQLite) and transaction
  order, each paired rank by rank with the order in which the voters were active;
* times: a ballot's ``cast_at`` against each voter's session ``expires_at - 12 h`` ("seen") and
  audit event times;
* the database files (SQLite): where each ballot's bytes sit in the WAL file and in the main
  file (a new row's cell is placed below the older ones in its page);
* the logs of the whole journey, searched for every receipt.

Chance: the attacker is even told exactly who voted in each pot. A guess that picks for each
voter one of the pot's n ballots at random is right with probability 1/n, so random guessing
expects one correct link per pot (``expected``), whatever n. After the mix, every attack must
stay within ``expected + 3 * sqrt(expected) + 3`` correct links over all pots (a Poisson tail of
about 1e-4 per attack), and the equality joins and the logs must identify nobody at all. Before
the mix the figures document the window (printed; on PostgreSQL the adjacency attack must link
most voters, which shows that the attacks can find a link when there is one).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import math
import re
import secrets
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from portal import clock
from portal.db import is_postgres, raw
from tests.helpers import PortalClient
from voting.compute.rules import BallotRules
from voting.mixer import ballot_mixer_loop, pots_to_mix
from voting.testing import build_cycle

VOTERS = 16  # half in Gangnam-gu (city-wide and Gangnam pots), half in Mapo-gu (city-wide pot)
SESSION_HOURS = 12
RECEIPT = re.compile(r"[A-Z2-9]{4}-[A-Z2-9]{4}-[A-Z2-9]{4}")


# ---------------------------------------------------------------- what the attacker reads


async def _user_rows() -> list[dict]:
    """Every row that names a user, with its time and (PostgreSQL) transaction id."""
    xmin = "xmin::text::bigint AS x" if is_postgres() else "0 AS x"
    rows = []
    for r in await raw(f"SELECT {xmin}, data, expires_at FROM portal_session"):  # noqa: S608
        data = json.loads(bytes(r["data"]).decode())
        if "uid" in data:
            seen = r["expires_at"] - dt.timedelta(hours=SESSION_HOURS)
            rows.append({"x": r["x"], "user": data["uid"], "time": seen, "data": data})
    for r in await raw(
        f"SELECT {xmin}, id, actor_id, occurred_at FROM portal_audit_event WHERE actor_id IS NOT NULL"  # noqa: S608
    ):
        rows.append({"x": r["x"], "user": r["actor_id"], "time": r["occurred_at"], "id": r["id"]})
    for r in await raw(f"SELECT {xmin}, id FROM portal_user"):  # noqa: S608
        rows.append({"x": r["x"], "user": r["id"], "time": None})
    return rows


async def _ballots(pot: int) -> list[dict]:
    extra = "xmin::text::bigint AS x, ctid::text AS c" if is_postgres() else "rowid AS c, 0 AS x"
    rows = [
        dict(r)
        for r in await raw(
            f"SELECT id, receipt, cast_at, {extra} FROM pb_ballot WHERE pot = {{}}",  # noqa: S608
            pot,
        )
    ]
    for r in rows:
        c = r["c"]
        r["physical"] = tuple(int(p) for p in c.strip("()").split(",")) if isinstance(c, str) else c
    return rows


def _activity_order(user_rows: list[dict], candidates: list[int]) -> list[int]:
    """Voters in the order they first showed up (their first audit event)."""
    first: dict[int, int] = {}
    for r in user_rows:
        if "id" in r and r["user"] in candidates:
            first[r["user"]] = min(first.get(r["user"], r["id"]), r["id"])
    return sorted(candidates, key=lambda u: (first.get(u, 1 << 62), u))


def _pair_by_rank(
    ballots: list[dict], key: Callable[[dict], object], voters: list[int]
) -> dict[str, int]:
    ordered = sorted(ballots, key=key)
    return {b["receipt"]: v for b, v in zip(ordered, voters, strict=False)}


# ---------------------------------------------------------------- attacks: ballot receipt -> guessed voter


def attack_xmin_equal(ballots, user_rows, voters):
    """Rows written in the ballot's transaction that name exactly one voter."""
    guesses = {}
    for b in ballots:
        named = {r["user"] for r in user_rows if r["x"] == b["x"] and r["user"] in voters}
        if len(named) == 1:
            guesses[b["receipt"]] = named.pop()
    return guesses


def _adjacent(ballots, user_rows, voters, before: bool):
    rows = sorted((r for r in user_rows if r["user"] in voters and r["x"]), key=lambda r: r["x"])
    guesses = {}
    for b in ballots:
        side = [r for r in rows if (r["x"] < b["x"] if before else r["x"] > b["x"])]
        if side:
            guesses[b["receipt"]] = (side[-1] if before else side[0])["user"]
    return guesses


def attack_xmin_before(ballots, user_rows, voters):
    return _adjacent(ballots, user_rows, voters, before=True)


def attack_xmin_after(ballots, user_rows, voters):
    return _adjacent(ballots, user_rows, voters, before=False)


def attack_xmin_order(ballots, user_rows, voters):
    return _pair_by_rank(ballots, lambda b: (b["x"], b["id"]), _activity_order(user_rows, voters))


def attack_id_order(ballots, user_rows, voters):
    return _pair_by_rank(ballots, lambda b: b["id"], _activity_order(user_rows, voters))


def attack_physical_order(ballots, user_rows, voters):
    return _pair_by_rank(ballots, lambda b: b["physical"], _activity_order(user_rows, voters))


def attack_times(ballots, user_rows, voters):
    """Each ballot to the voter whose last session write or audit event is nearest its cast_at."""
    last: dict[int, dt.datetime] = {}
    for r in user_rows:
        if r["time"] is not None and r["user"] in voters:
            last[r["user"]] = max(last.get(r["user"], r["time"]), r["time"])
    guesses = {}
    for b in sorted(ballots, key=lambda b: b["id"]):
        if last:
            guesses[b["receipt"]] = min(last, key=lambda u: (abs(last[u] - b["cast_at"]), u))
    return guesses


def _file_order(ballots, data: bytes, newest_first: bool):
    """Ballots ordered by where their receipt's bytes first appear in a database file."""
    found = {b["receipt"]: data.find(b["receipt"].encode()) for b in ballots}
    present = [b for b in ballots if found[b["receipt"]] >= 0]
    sign = -1 if newest_first else 1
    return sorted(present, key=lambda b: sign * found[b["receipt"]])


def _copy_of(path: Path) -> bytes:
    """The file's bytes, read by another process as an attacker's copy would be.

    Never opened here: closing any descriptor of a database file drops every POSIX lock this
    process's SQLite connections hold on it (SQLite's documented pitfall), which corrupts the
    locking between this process and the servers the next tests start.
    """
    result = subprocess.run(["cat", str(path)], capture_output=True, check=False)
    return result.stdout if result.returncode == 0 else b""


def make_file_attack(path: Path, newest_first: bool):
    def attack(ballots, user_rows, voters):
        data = _copy_of(path)
        ordered = _file_order(ballots, data, newest_first)
        return {
            b["receipt"]: v
            for b, v in zip(ordered, _activity_order(user_rows, voters), strict=False)
        }

    return attack


def make_log_attack(log_text: str, emails: dict[str, int]):
    def attack(ballots, user_rows, voters):
        guesses = {}
        for line in log_text.splitlines():
            for receipt in RECEIPT.findall(line):
                named = [uid for email, uid in emails.items() if email in line]
                if named:
                    guesses[receipt] = named[0]
        return {b["receipt"]: guesses[b["receipt"]] for b in ballots if b["receipt"] in guesses}

    return attack


# ---------------------------------------------------------------- the journey


async def _vote(client: PortalClient, built, pot: int, choice: list[int], html: bool) -> str:
    """Cast through the page (then read the receipt page) or the API; returns the receipt."""
    if html:
        response = await client.post_form(
            f"/pb/cycles/{built.id}/pots/{pot}/ballot", {"project_ids": choice}
        )
        assert response.status_code == 303, response.text
        page = await client.get(response.headers["location"])
        assert page.status_code == 200 and "Your ballot was stored" in page.text
        return re.search(r'id="receipt-code">([^<]+)<', page.text).group(1)
    response = await client.send_json(
        "PUT", f"/api/v1/pb/cycles/{built.id}/pots/{pot}/ballot", {"project_ids": choice}
    )
    assert response.status_code == 200, response.text
    return response.json()["receipt"]


async def _session_row(client: PortalClient) -> tuple:
    key = client.cookies.get("hangang_session")
    rows = await raw("SELECT data, expires_at FROM portal_session WHERE key = {}", key)
    return (bytes(rows[0]["data"]), rows[0]["expires_at"])


async def _score(attacks, pots, truth) -> dict[str, int]:
    """Correct links per attack over all pots (a link: a ballot's receipt to its voter)."""
    user_rows = await _user_rows()
    scores = {}
    for name, attack in attacks.items():
        correct = 0
        for pot, voters in pots.items():
            ballots = await _ballots(pot)
            guesses = attack(ballots, user_rows, voters)
            correct += sum(1 for receipt, voter in guesses.items() if truth.get(receipt) == voter)
        scores[name] = correct
    return scores


async def test_no_database_or_log_reader_links_a_ballot_to_its_voter(app, users, official, caplog):
    # The production level: at DEBUG the database drivers log every statement with its values.
    caplog.set_level(logging.INFO)
    built = await build_cycle(
        official.account.id,
        rules=BallotRules(ballot_kind="approval", min_projects=1, max_projects=5),
    )
    city, gangnam = built.city_pot, built.pots["11680"]
    # Every voter's choice differs from the others' in the pot (31 non-empty sets of 5 projects).
    subsets, gangnam_subsets = (
        [[p for i, p in enumerate(built.projects[pot]) if mask >> i & 1] for mask in range(1, 32)]
        for pot in (city, gangnam)
    )
    accounts = [
        await users.create(district="11680" if i % 2 == 0 else "11440", verified=True)
        for i in range(VOTERS)
    ]
    clients = [PortalClient.for_app(app) for _ in accounts]
    pots: dict[int, list[int]] = {city: [], gangnam: []}
    receipts: dict[tuple[int, int], str] = {}  # (pot, voter) -> the receipt of their last ballot
    try:
        # First casts, one voter after another, each some minutes after the last.
        for i, (account, client) in enumerate(zip(accounts, clients, strict=True)):
            clock.advance(dt.timedelta(minutes=3))
            await client.login(account)
            assert (await client.get(f"/pb/cycles/{built.id}")).status_code == 200
            before = await _session_row(client)
            receipts[city, account.id] = await _vote(
                client, built, city, subsets[i], html=i % 3 != 0
            )
            pots[city].append(account.id)
            if account.district == "11680":
                receipts[gangnam, account.id] = await _vote(
                    client, built, gangnam, gangnam_subsets[i], html=i % 3 == 0
                )
                pots[gangnam].append(account.id)
            # Casting, reading the receipt and the ballot left the session row as it was.
            assert await _session_row(client) == before
        # Some voters come back later and change their city-wide ballot.
        for i in range(0, VOTERS, 4):
            clock.advance(dt.timedelta(minutes=3))
            await clients[i].login(accounts[i])  # their earlier session has timed out
            assert (await clients[i].get(f"/pb/cycles/{built.id}")).status_code == 200
            receipts[city, accounts[i].id] = await _vote(
                clients[i], built, city, subsets[VOTERS + i // 4], html=i % 8 == 0
            )
        truth = {receipt: voter for (_, voter), receipt in receipts.items()}
        assert len(truth) == VOTERS + VOTERS // 2
    finally:
        for client in clients:
            await client.aclose()

    # No session row holds anything about a vote.
    for row in await raw("SELECT data FROM portal_session"):
        data = json.loads(bytes(row["data"]).decode())
        assert "flash" not in data and not RECEIPT.search(json.dumps(data)), data

    emails = {account.email: account.id for account in accounts}
    attacks = {
        "ballot id order": attack_id_order,
        "physical order (" + ("ctid" if is_postgres() else "rowid") + ")": attack_physical_order,
        "cast_at vs session seen/expires_at and audit times": attack_times,
        "receipts in the logs": make_log_attack(caplog.text, emails),
    }
    if is_postgres():
        attacks |= {
            "xmin equality (sessions, audit, users, counts)": attack_xmin_equal,
            "xmin adjacency, row before": attack_xmin_before,
            "xmin adjacency, row after": attack_xmin_after,
            "xmin order": attack_xmin_order,
        }
    else:
        from portal.piccolo_conf import DB

        wal, main = Path(f"{DB.path}-wal"), Path(DB.path)
        attacks |= {
            "WAL file order": make_file_attack(wal, newest_first=False),
            "cell position in the main file": make_file_attack(main, newest_first=True),
        }
    before = await _score(attacks, pots, truth)

    # The mixer's round, as every worker runs it (a short interval here).
    stop = asyncio.Event()
    loop = asyncio.create_task(ballot_mixer_loop(stop, interval=0.1))
    try:
        for _ in range(200):
            if not await pots_to_mix([city, gangnam]):
                break
            await asyncio.sleep(0.05)
    finally:
        stop.set()
        await loop  # the loop ends its round (the mix and, on SQLite, the WAL checkpoint) first
    assert not await pots_to_mix([city, gangnam])
    after = await _score(attacks, pots, truth)

    expected = float(len(pots))  # random guessing: one correct link per pot
    bound = expected + 3 * math.sqrt(expected) + 3
    print(
        f"\nballot secrecy ({'postgres' if is_postgres() else 'sqlite'}): {VOTERS} voters, "
        f"{len(truth)} ballots in {len(pots)} pots, {VOTERS // 4} replaced; {len(attacks)} attacks; "
        f"chance = {expected:.0f} correct links, bound {bound:.1f}"
    )
    for name in attacks:
        print(f"  {name:55s} linked before mixing {before[name]:3d}, after {after[name]:3d}")
    for name, correct in after.items():
        assert correct <= bound, (name, correct, bound)
    assert after["receipts in the logs"] == 0 and before["receipts in the logs"] == 0
    assert not [receipt for receipt in truth if receipt in caplog.text]  # nor alone
    if is_postgres():
        assert after["xmin equality (sessions, audit, users, counts)"] == 0
        # The window before the mix is real: the attacks do find links when there are some.
        assert before["xmin adjacency, row before"] >= len(truth) // 2


async def test_station_ballots_leave_nothing_that_links_them_to_the_checked_in_person(app, users, official, caplog):
    """Tablet ballots (issue #12): check-ins by the register, casts on the tablet, then every table and the
    logs are searched for what would link a person to their ballot (codes, hashes, user ids, keys)."""
    from portal.accounts import resident_identifier_hash
    from portal.settings import get_settings
    from portal.tables import ResidentHash
    from tests.integration.test_pb_stations import add_station, check_in, kiosk_code
    from voting.compute.rules import voter_key
    from voting.services.check_in import kiosk_code_hash
    from voting.services.stations import assign_worker

    caplog.set_level(logging.INFO)
    built = await build_cycle(official.account.id)
    station = await add_station(built.id)
    worker_account = await users.create(["poll_worker"])
    await assign_worker(official.account.id, built.id, station, worker_account.email)
    people = [f"90010{i}-123456{i}" for i in range(4)]
    for identifier in people:
        await ResidentHash.insert(ResidentHash(
            identifier_hash=resident_identifier_hash(identifier), district_code="11680", imported_at=clock.now()
        ))
    codes, receipts = [], []
    async with PortalClient.for_app(app) as worker, PortalClient.for_app(app) as tablet:
        await worker.login(worker_account)
        for i, identifier in enumerate(people):
            code = kiosk_code(await check_in(worker, station, "station", identifier=identifier))
            project = built.projects[built.city_pot][i % 3]
            cast = await tablet.post_form("/pb/kiosk/ballot", {"code": code, f"project_ids-{built.city_pot}": str(project)})
            assert cast.status_code == 200
            codes.append(code)
            receipts += RECEIPT.findall(cast.text)
    secret = get_settings().secret_key
    needles = [*codes, *(kiosk_code_hash(c) for c in codes), *(resident_identifier_hash(p) for p in people)]
    dump = json.dumps([dict(r) for t in ("pb_ballot", "pb_participation", "pb_voter_record", "pb_kiosk_ballot",
                                         "portal_audit_event", "pb_station_count")
                       for r in await raw(f"SELECT * FROM {t}")], default=str)  # noqa: S608
    assert not [n for n in needles if n in dump]
    assert not [c for c in codes if c in caplog.text] and not [r for r in receipts if r in caplog.text]
    keys = {r["voter_key"] for r in await raw("SELECT voter_key FROM pb_ballot WHERE channel = 'station'")}
    assert len(keys) == len(people)
    assert not keys & {voter_key(secret, worker_account.id, built.city_pot)}
    assert await raw("SELECT * FROM pb_kiosk_ballot") == []


# ---------------------------------------------------------------- the mixer at scale: order statistics


def _rank_correlation(pairs: list[tuple[object, object]]) -> float:
    """Spearman's rank correlation of the pairs (no ties: ranks by position in sorted order)."""
    n = len(pairs)
    first = {i: r for r, i in enumerate(sorted(range(n), key=lambda i: pairs[i][0]))}
    second = {i: r for r, i in enumerate(sorted(range(n), key=lambda i: pairs[i][1]))}
    return 1 - 6 * sum((first[i] - second[i]) ** 2 for i in range(n)) / (n * (n * n - 1))


@pytest.mark.parametrize("path", ["pot rewrite", "table rebuild"])
async def test_after_the_mix_no_order_in_the_table_follows_the_cast_order(path, monkeypatch):
    """2,000 ballots stored in cast order (ascending ids, 20 casts a transaction), then mixed by either
    path of the mixer: ids, physical order (ctid; rowid) and, on SQLite, where each receipt sits in the
    database file show no correlation with the cast order; PostgreSQL: one transaction id for all."""
    from voting import mixer_rebuild
    from voting.compute.rules import new_receipt
    from voting.mixer import forget_write_order, mix_pending

    monkeypatch.setattr(mixer_rebuild, "REBUILD_MIN_BALLOTS", 0 if path == "table rebuild" else 10**9)
    built = await build_cycle(None)
    pot, projects = built.city_pot, built.projects[built.city_pot]
    n, per_transaction = 2000, 20
    receipts = [new_receipt() for _ in range(n)]  # random, as every receipt is: its order says nothing
    for start in range(0, n, per_transaction):
        values = ", ".join("({}, {}, {}, {}, {}, 'online', 1, CURRENT_TIMESTAMP)" for _ in range(per_transaction))
        args: list[object] = []
        for i in range(start, start + per_transaction):
            args += [i + 1, pot, secrets.token_hex(32), receipts[i], json.dumps({"project_ids": [projects[i % 5]]})]
        await raw(
            f"INSERT INTO pb_ballot (id, pot, voter_key, receipt, content, channel, version, cast_at) VALUES {values}",  # noqa: S608
            *args,
        )
    cast_order = {receipt: i for i, receipt in enumerate(receipts)}
    stored = sorted((r["voter_key"], r["receipt"], r["content"]) for r in await _ballots_with_content(pot))
    bound = 4 / math.sqrt(n - 1)  # four standard deviations of the rank correlation of independent orders

    def correlation(rows: list[dict], key: str) -> float:
        return _rank_correlation([(cast_order[r["receipt"]], r[key]) for r in rows])

    schema = await _ballot_schema()
    before = await _ballots(pot)
    # The attack works here. (PostgreSQL puts some new rows into space an earlier test's deleted rows
    # freed, so the physical order follows the cast order less than perfectly; still far above ``bound``.)
    assert correlation(before, "physical") > 0.5 and correlation(before, "id") > 0.9
    assert (await mix_pending([pot])) == {pot: n}
    await forget_write_order()
    after = await _ballots(pot)
    assert sorted((r["voter_key"], r["receipt"], r["content"]) for r in await _ballots_with_content(pot)) == stored
    assert not {r["id"] for r in after} & set(range(1, n + 1))
    assert await _ballot_schema() == schema  # keys, indexes and the foreign key as they were
    assert abs(correlation(after, "physical")) <= bound, correlation(after, "physical")
    assert abs(correlation(after, "id")) <= bound, correlation(after, "id")
    if is_postgres():
        assert len({r["x"] for r in after}) == 1  # one transaction wrote them all
        return
    from portal.piccolo_conf import DB

    data = _copy_of(Path(DB.path))
    positions = [{"receipt": r["receipt"], "at": data.find(r["receipt"].encode())} for r in after]
    assert all(p["at"] >= 0 for p in positions)
    assert abs(correlation(positions, "at")) <= bound, correlation(positions, "at")
    # The old rows are zeroed (secure_delete): a ballot's bytes are in its row and its receipt index
    # entry. A few cells that B-tree page splits moved before the mix can linger in unused space.
    copies = [data.count(receipt.encode()) for receipt in cast_order]
    assert sum(1 for c in copies if c > 2) <= n // 100, sorted(copies)[-20:]


async def _ballots_with_content(pot: int) -> list[dict]:
    return await raw("SELECT voter_key, receipt, content FROM pb_ballot WHERE pot = {}", pot)


async def _ballot_schema() -> list[str]:
    if is_postgres():
        rows = await raw(
            "SELECT conname || ' ' || pg_get_constraintdef(oid) AS d FROM pg_constraint "
            "WHERE conrelid = 'pb_ballot'::regclass UNION ALL "
            "SELECT indexdef FROM pg_indexes WHERE tablename = 'pb_ballot'"
        )
    else:
        rows = await raw(
            "SELECT type || ' ' || name || ' ' || COALESCE(sql, '') AS d FROM sqlite_master "
            "WHERE tbl_name = 'pb_ballot'"
        )
    return sorted(r["d"] for r in rows)
