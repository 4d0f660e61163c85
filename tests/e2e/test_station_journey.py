"""Item 9 (issue 12), in English and in Korean. In English: a poll worker signs in with a second step, checks a resident in by the
register, opens a tablet ballot that casts and shows its receipt; a second check-in of the same person, an
unknown resident and an expired tablet code are refused with a clear message; a paper batch keyed by two
workers with a deliberate mismatch is flagged and resolved by a third, then counted; a tally sheet that
does not reconcile keeps the station open. In Korean: the same refusals read in Korean beside the field,
and a resident handed a paper ballot at the station is refused online with a Korean message."""

from __future__ import annotations

import re

import pyotp
import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import log_in, run_setup
from tests.e2e.test_pb_journey import PASSWORD
from tests.live import LiveServer

pytestmark = pytest.mark.e2e
IDENTIFIER = "900101-1234567"


@pytest.fixture(scope="module")
def live():
    with LiveServer() as server:
        yield server


def setup_station(
    live: LiveServer, secrets: list[str], *, prefix: str = "worker", language: str = "en", identifier: str = IDENTIFIER
) -> dict:
    """A cycle in voting, an open Gangnam-gu station with its poll workers, a resident in the register."""
    workers = "".join(
        f"    w{i} = await accounts.create_user('{prefix}{i}@example.kr', '{PASSWORD}', ['poll_worker'], "
        f"totp_secret='{s}', language='{language}', check_password=False)\n"
        for i, s in enumerate(secrets)
    )
    return run_setup(
        live,
        "import datetime as dt\nfrom portal import accounts, clock\nfrom portal.accounts import resident_identifier_hash\n"
        "from portal.tables import ResidentHash\nfrom voting.testing import build_cycle\n"
        "from voting.tables import Station, StationWorker\n"
        "async def main():\n"
        + workers
        + "    built = await build_cycle(None)\n"
        "    now = clock.now()\n"
        "    row = await Station.insert(Station(cycle=built.id, district_code='11680', name='Gangnam-gu Office',"
        " address='426 Hakdong-ro', opens_at=now - dt.timedelta(hours=1), closes_at=now + dt.timedelta(hours=8),"
        " created_at=now)).returning(Station.id)\n"
        "    station = row[0]['id']\n"
        f"    for w in ({', '.join(f'w{i}' for i in range(len(secrets)))},):\n"
        "        await StationWorker.insert(StationWorker(station=station, user=w))\n"
        f"    await ResidentHash.insert(ResidentHash(identifier_hash=resident_identifier_hash('{identifier}'),"
        " district_code='11680', imported_at=now))\n"
        "    return {'cycle': built.id, 'station': station, 'city_pot': built.city_pot,"
        " 'projects': built.projects[built.city_pot]}\n"
        "print(json.dumps(asyncio.run(main())))",
    )


def check_in(page, live: LiveServer, station: int, identifier: str, action: str) -> None:
    page.goto(f"{live.url}/pb/stations/{station}")
    page.get_by_label("Resident registration number (from the ID card)").fill(identifier)
    page.get_by_label("Birth date (from the ID card)").fill("1990-01-01")
    page.get_by_role("button", name=action).click()
    page.wait_for_load_state()


def key_batch(page, live: LiveServer, station: int, batch: int, sheets: dict[int, int]) -> None:
    """Key sheet numbers and the one project ticked on each, row by row."""
    page.goto(f"{live.url}/pb/stations/{station}/paper/batches/{batch}")
    for row, (sheet, project) in enumerate(sheets.items(), start=1):
        page.locator(f"#f-s{row}-sheet").fill(str(sheet))
        page.locator(f'input[name="s{row}-marks"][value="{project}"]').check()
    page.get_by_role("button", name="Save my keying").click()
    page.wait_for_load_state()


def test_poll_worker_runs_a_station(page, page2, page3, live):
    secrets = [pyotp.random_base32() for _ in range(3)]
    setup = setup_station(live, secrets)
    station, projects = setup["station"], setup["projects"]

    # 1. The poll worker signs in (password, then the authenticator code) and sees the station.
    log_in(page, live, "worker0@example.kr", PASSWORD, secrets[0])
    page.goto(f"{live.url}/pb/stations")
    page.get_by_role("link", name="Gangnam-gu Office").first.click()
    page.wait_for_url(re.compile(rf"/pb/stations/{station}$"))

    # 2. An unknown resident: refused beside the field, what was typed stays.
    check_in(page, live, station, "111111-2222222", "Check only")
    expect(page.locator("#f-identifier-error")).to_contain_text("not in the resident register")
    expect(page.get_by_label("Resident registration number (from the ID card)")).to_have_value("111111-2222222")

    # 3. The resident from the register: a tablet ballot, opened on this device, cast, receipt on screen.
    check_in(page, live, station, IDENTIFIER, "Open a tablet ballot")
    code = page.locator("#kiosk-code").inner_text().strip()
    assert code
    page.get_by_role("button", name="Open the ballot on this device").click()
    page.wait_for_load_state()
    page.locator(f"#p-{setup['city_pot']}-{projects[0]}").check()
    page.get_by_role("button", name="Cast my ballot").click()
    expect(page.get_by_role("heading", name="Your ballot was stored")).to_be_visible()
    receipt = page.locator("strong.receipt").first.inner_text().strip()
    assert re.fullmatch(r"[A-Z0-9]{4}-[A-Z0-9]{4}-[A-Z0-9]{4}", receipt)

    # 4. The same code again (the tablet was reused): refused.
    page.goto(f"{live.url}/pb/kiosk")
    page.get_by_label("Ballot code").fill(code)
    page.get_by_role("button", name="Open the ballot").click()
    expect(page.locator("#f-code-error")).to_contain_text("expired or was already used")

    # 5. A second check-in of the same person: refused, no second ballot offered.
    check_in(page, live, station, IDENTIFIER, "Open a tablet ballot")
    expect(page.locator("#f-identifier-error")).to_contain_text("already voted on a station tablet")
    assert page.locator("#kiosk-code").count() == 0

    # 6. An expired tablet code: another resident's ballot left until it expires.
    run_setup(
        live,
        "from portal.accounts import resident_identifier_hash\nfrom portal import clock\n"
        "from portal.tables import ResidentHash\n"
        "async def main():\n"
        "    await ResidentHash.insert(ResidentHash(identifier_hash=resident_identifier_hash('850505-2345678'),"
        " district_code='11680', imported_at=clock.now()))\n"
        "asyncio.run(main())\nprint('{}')",
    )
    check_in(page, live, station, "850505-2345678", "Open a tablet ballot")
    late_code = page.locator("#kiosk-code").inner_text().strip()
    run_setup(
        live,
        "import datetime as dt\nfrom portal import clock\nfrom voting.tables import KioskBallot\n"
        "async def main():\n"
        "    await KioskBallot.update({KioskBallot.expires_at: clock.now() - dt.timedelta(minutes=1)})"
        ".where(KioskBallot.id > 0)\n"
        "asyncio.run(main())\nprint('{}')",
    )
    page.goto(f"{live.url}/pb/kiosk")
    page.get_by_label("Ballot code").fill(late_code)
    page.get_by_role("button", name="Open the ballot").click()
    expect(page.locator("#f-code-error")).to_contain_text("expired or was already used")
    expect(page.get_by_label("Ballot code")).to_have_value(late_code)

    # 7. Paper: worker 0 opens batch 1 and keys it; worker 1 keys sheet 2 differently: a mismatch.
    page.goto(f"{live.url}/pb/stations/{station}/paper")
    page.get_by_label("Pot").select_option(str(setup["city_pot"]))
    page.get_by_label("Batch number").fill("1")
    page.get_by_role("button", name="Open the batch").click()
    page.wait_for_url(re.compile(r"/paper/batches/\d+$"))
    batch = int(page.url.rsplit("/", 1)[1])
    key_batch(page, live, station, batch, {1: projects[0], 2: projects[1]})
    log_in(page2, live, "worker1@example.kr", PASSWORD, secrets[1])
    key_batch(page2, live, station, batch, {1: projects[0], 2: projects[2]})
    expect(page2.locator("#batch-state")).to_have_text("Mismatch")

    # 8. A third worker resolves sheet 2 from the bundle; the batch is then counted.
    log_in(page3, live, "worker2@example.kr", PASSWORD, secrets[2])
    page3.goto(f"{live.url}/pb/stations/{station}/paper/batches/{batch}")
    expect(page3.get_by_role("heading", name="Resolve the mismatched sheets")).to_be_visible()
    page3.locator(f'input[name="r2-marks"][value="{projects[1]}"]').check()
    page3.get_by_role("button", name="Save the resolution").click()
    page3.wait_for_load_state()
    expect(page3.locator("#batch-state")).to_have_text("Resolved")
    page3.get_by_role("button", name="Count this batch").click()
    page3.wait_for_load_state()
    expect(page3.locator("#batch-state")).to_have_text("Counted")
    expect(page3.get_by_text("Valid ballots: 2. Spoiled: 0.")).to_be_visible()

    # 9. A tally sheet that does not reconcile: the station stays open and the typed figures stay.
    page3.goto(f"{live.url}/pb/stations/{station}/paper")
    page3.get_by_label("Ballots handed out").fill("5")
    page3.get_by_label("Ballots returned (in the box)").fill("2")
    page3.get_by_label("Spoiled ballots").fill("0")
    page3.get_by_role("button", name="Save the tally sheet and close the station").click()
    page3.wait_for_load_state()
    expect(page3.locator("#reconciliation")).to_contain_text("does not reconcile")
    expect(page3.get_by_label("Ballots handed out")).to_have_value("5")
    expect(page3.get_by_role("button", name="Save the tally sheet and close the station")).to_be_visible()


def check_in_korean(page, live: LiveServer, station: int, action: str, *, identifier: str = "", email: str = "") -> None:
    page.goto(f"{live.url}/pb/stations/{station}")
    page.locator("#f-identifier").fill(identifier)
    page.locator("#f-email").fill(email)
    page.locator("#f-birth_date").fill("1990-01-01")
    page.get_by_role("button", name=action).click()
    page.wait_for_load_state()


def test_poll_worker_and_resident_in_korean(browser, live):
    """The station in Korean: refusals beside the field, a tablet ballot, and a resident handed a paper
    ballot at the station who then tries to vote online."""
    secret = pyotp.random_base32()
    identifier = "910202-1234567"
    setup = setup_station(live, [secret], prefix="jikwon", language="ko", identifier=identifier)
    station = setup["station"]
    run_setup(
        live,
        "from portal import accounts\nasync def main():\n"
        f"    await accounts.create_user('jiwoo@example.kr', '{PASSWORD}', ['citizen'], district_code='11680',"
        " verified=True, language='ko', check_password=False)\n"
        "asyncio.run(main())\nprint('{}')",
    )
    context = browser.new_context(locale="ko-KR", viewport={"width": 1200, "height": 900})
    worker = context.new_page()
    worker.set_default_timeout(15000)
    citizen_context = browser.new_context(locale="ko-KR", viewport={"width": 1200, "height": 900})
    citizen = citizen_context.new_page()
    citizen.set_default_timeout(15000)
    try:
        log_in(worker, live, "jikwon0@example.kr", PASSWORD, secret)

        # 1. An unknown resident: a Korean message beside the field, what was typed stays.
        check_in_korean(worker, live, station, "확인만 하기", identifier="111111-2222222")
        expect(worker.locator("#f-identifier-error")).to_contain_text("주민 명부에 없습니다")
        expect(worker.locator("#f-identifier")).to_have_value("111111-2222222")

        # 2. The registered resident votes on the tablet; the receipt is on screen.
        check_in_korean(worker, live, station, "태블릿 투표 열기", identifier=identifier)
        code = worker.locator("#kiosk-code").inner_text().strip()
        worker.get_by_role("button", name="이 기기에서 투표 열기").click()
        worker.wait_for_load_state()
        worker.locator(f"#p-{setup['city_pot']}-{setup['projects'][0]}").check()
        worker.get_by_role("button", name="투표하기").click()
        expect(worker.get_by_role("heading", name="투표가 저장되었습니다")).to_be_visible()
        assert re.fullmatch(r"[A-Z0-9]{4}-[A-Z0-9]{4}-[A-Z0-9]{4}", worker.locator("strong.receipt").first.inner_text().strip())

        # 3. The used code, and a second check-in of the same person: refused in Korean.
        worker.goto(f"{live.url}/pb/kiosk")
        worker.locator("#f-code").fill(code)
        worker.get_by_role("button", name="투표 열기", exact=True).click()
        expect(worker.locator("#f-code-error")).to_contain_text("만료되었거나 이미 사용되었습니다")
        check_in_korean(worker, live, station, "태블릿 투표 열기", identifier=identifier)
        expect(worker.locator("#f-identifier-error")).to_contain_text("이미 현장 태블릿으로 투표했습니다")
        assert worker.locator("#kiosk-code").count() == 0

        # 4. A resident with a portal account is handed a paper ballot, then tries to vote online.
        check_in_korean(worker, live, station, "종이 투표용지 교부", email="jiwoo@example.kr")
        expect(worker.locator("#result-title")).to_be_visible()
        log_in(citizen, live, "jiwoo@example.kr", PASSWORD)
        citizen.goto(f"{live.url}/pb/cycles/{setup['cycle']}/pots/{setup['city_pot']}/ballot")
        project = setup["projects"][1]
        citizen.locator(f"#p-{project}").check()
        citizen.get_by_role("button", name="투표하기").click()
        citizen.wait_for_load_state()
        expect(citizen.locator("body")).to_contain_text("이미 현장투표소에서 투표했으므로 온라인으로 다시 투표할 수 없습니다")
        expect(citizen.locator(f"#p-{project}")).to_be_checked()
        assert "/receipt" not in citizen.url
    finally:
        citizen_context.close()
        context.close()
