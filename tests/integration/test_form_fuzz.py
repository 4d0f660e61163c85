"""Every POST form on every page each role can reach, submitted with bad input: never a 5xx, nothing typed lost.

For each role the pages are found as the crawler finds them (``tests.pages``), their POST forms are read from
the HTML, and each form (one per route) is sent with every field empty, each field missing, each field
overlong, NUL bytes, letters and 30-digit numbers in number fields, an unknown extra field and a stale CSRF
token. The answer must be a 4xx or the form again with a message beside the field; when the form comes back,
every field not in error holds exactly what was sent (passwords excepted) and each error link leads to a field.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

import pytest

from tests.helpers import PortalClient
from tests.pages import ROLES, Form, build_site, form_key, page_urls, parse_page

pytestmark = pytest.mark.slow

NUMBER_NAME = re.compile(
    r"(cost|amount|budget|total|points|year|seed|winners|_id$|^id$|confidence|score|per_entry|per_organization"
    r"|threshold|projects$|percent|floor|judge$|organization$|merged_into)"
)
OVERLONG = "x" * 12_000
LETTERS = "twelve"
THIRTY_DIGITS = "9" * 30
SAMPLES = {
    "email": "fuzz@example.kr",
    "number": "3",
    "password": "not the password at all 42",
    "date": "2027-03-01",
    "datetime-local": "2027-03-01T09:00",
    "url": "https://example.kr",
    "tel": "010-1234-5678",
}
# Forms whose success ends something others depend on (voting, an entry, the session): fuzzed last.
FINAL_ACTIONS = re.compile(r"/(close|approve|withdraw|delete|submit|logout)$")


@dataclass
class Case:
    name: str
    fields: list[tuple[str, str]]
    csrf: str = "valid"  # valid | stale
    target: str | None = None  # the field the case spoils (None: all or none)


def is_number(form: Form, name: str) -> bool:
    kinds = {f.kind for f in form.fields if f.name == name}
    return "number" in kinds or bool(NUMBER_NAME.search(name))


def baseline(form: Form) -> list[tuple[str, str]]:
    """The form as a person would fill it: shown values kept, empty boxes given a plausible value."""
    out = []
    for name, value in form.values():
        if name == "_csrf_token":
            continue
        kind = next(f.kind for f in form.fields if f.name == name)
        if not value:
            if kind == "select":
                options = [o for o in next(f.options for f in form.fields if f.name == name) if o]
                value = options[0] if options else ""
            elif is_number(form, name):
                value = SAMPLES["number"]
            else:
                value = SAMPLES.get(kind, "A sample answer for this field")
        out.append((name, value))
    return out


def cases_for(form: Form) -> list[Case]:
    """The bad inputs, ordered so that a case likely to succeed (changing state) comes last."""
    base = baseline(form)
    names = [n for n in form.names if n != "_csrf_token"]
    typed = [n for n in names if any(f.name == n and f.kind not in ("checkbox", "radio", "hidden") for f in form.fields)]
    cases = [Case("stale CSRF token", base, csrf="stale"), Case("every field empty", [(n, "") for n, _ in base])]
    for name in names:
        cases.append(Case(f"missing {name}", [(n, v) for n, v in base if n != name], target=name))
    for name in typed:
        cases.append(Case(f"overlong {name}", [(n, OVERLONG if n == name else v) for n, v in base], target=name))
    if names:
        cases.append(Case("NUL bytes", [(n, v + "\x00") for n, v in base]))
    for name in names:
        if is_number(form, name):
            cases.append(Case(f"letters in {name}", [(n, LETTERS if n == name else v) for n, v in base], target=name))
            cases.append(Case(f"30 digits in {name}", [(n, THIRTY_DIGITS if n == name else v) for n, v in base], target=name))
    cases.append(Case("unknown extra fields", [*base, ("unknown_field", "1"), ("points-1", "2"), ("project_ids", "999999")]))
    return cases


async def submit(client: PortalClient, form: Form, case: Case, stale_token: str):
    token = stale_token if case.csrf == "stale" else await client.csrf_token()
    data: dict[str, list[str]] = {"_csrf_token": [token]}
    for name, value in case.fields:
        data.setdefault(name, []).append(value)
    headers = {"referer": f"http://testserver{form.page}"}
    if "multipart" in form.enctype:
        files = {f.name: ("", b"", "application/octet-stream") for f in form.fields if f.kind == "file"}
        return await client.post(form.action, data=data, files=files or {"_": ("", b"")}, headers=headers)
    return await client.post(form.action, data=data, headers=headers)


def problems_with(response, form: Form, case: Case) -> list[str]:
    """What is wrong with the answer to one case (an empty list when it is fine)."""
    status = response.status_code
    if status >= 500:
        return [f"{status} server error"]
    if 300 <= status < 400:
        return []  # accepted (or sent to log in): nothing to re-render
    if "text/html" not in response.headers.get("content-type", ""):
        return [] if status >= 400 else [f"{status} with {response.headers.get('content-type')}"]
    page = parse_page(response.text, str(response.url.path))
    found = [f for f in page.forms if f.action == form.action]
    out = []
    missing_anchors = [a for a in page.error_anchors if a not in page.ids]
    if missing_anchors:
        out.append(f"error links lead nowhere: #{', #'.join(missing_anchors)}")
    if not found:
        if case.csrf == "stale":
            out.append(f"{status}: the expired form was not shown again")
        return out
    again = found[0]
    has_message = bool(page.error_anchors) or 'class="error"' in response.text or 'role="alert"' in response.text
    if status >= 400 and not has_message:
        out.append(f"{status}: the form came back without a message")
    if status < 400:
        return out
    return out + values_lost(again, page, case)


def values_lost(again: Form, page, case: Case) -> list[str]:
    """The fields of the form shown again that no longer hold what the case sent."""
    out = []
    in_error = {f.name for f in again.fields if f.invalid} | {
        name for name in again.names if f"f-{name}-error" in page.ids
    }
    sent: dict[str, list[str]] = {}
    for name, value in case.fields:
        sent.setdefault(name, []).append(value)
    for name, values in sent.items():
        controls = [f for f in again.fields if f.name == name]
        secret = controls and (controls[0].kind in ("password", "hidden", "file") or "totp" in name)
        if not controls or name in in_error or secret:
            continue
        clean = [v.replace("\x00", "") for v in values]
        if controls[0].kind in ("checkbox", "radio"):
            shown = sorted(f.value for f in controls if f.checked)
            if shown != sorted(v for v in clean if v in {f.value for f in controls}):
                out.append(f"{name} lost what was ticked ({clean} -> {shown})")
        elif controls[0].kind == "select":
            if clean[0] in controls[0].options and controls[0].value != clean[0]:
                out.append(f"{name} lost its choice ({clean[0]!r} -> {controls[0].value!r})")
        elif controls[0].value.replace("\x00", "") != clean[0]:
            out.append(f"{name} lost what was typed ({clean[0][:30]!r} -> {controls[0].value[:30]!r})")
    # The missing-field case may leave that field empty; every other case keeps the case's own field too.
    return out


async def signed_in(app, account) -> PortalClient:
    client = PortalClient.for_app(app)
    if account is not None:
        await client.login(account)
    return client


async def still_signed_in(client: PortalClient) -> bool:
    return client.account is None or (await client.get("/account")).status_code == 200


async def discover_forms(clients: dict[str, PortalClient], urls, problems: list[str]) -> dict[str, tuple[str, Form]]:
    """Each role's pages; a form (one per route) is fuzzed by the first role that reaches it."""
    forms: dict[str, tuple[str, Form]] = {}
    for role, client in clients.items():
        for url in urls:
            response = await client.get(url)
            if response.status_code >= 500:
                problems.append(f"{role} GET {url}: {response.status_code}")
            if response.status_code != 200 or "text/html" not in response.headers.get("content-type", ""):
                continue
            for form in parse_page(response.text, url).forms:
                key = form_key(form)
                if key not in forms or forms[key] == (role, None) or forms[key][1].page == url and forms[key][0] == role:
                    forms[key] = (role, form)  # the last of a list: never the signed-in person's own row
    return forms


async def test_every_form_survives_bad_input(app, users, connection_pool):
    site = await build_site(users)
    urls = page_urls(app, site)
    async with PortalClient.for_app(app) as other:
        stale_token = await other.csrf_token()  # valid, but for another browser
    counts: Counter[str] = Counter()
    problems: list[str] = []
    clients = {role: await signed_in(app, site.accounts.get(role)) for role in ROLES}
    try:
        forms = await discover_forms(clients, urls, problems)
        ordered = sorted(forms.values(), key=lambda rf: (bool(FINAL_ACTIONS.search(rf[1].action)), ROLES.index(rf[0])))
        # Stale tokens first, for every form: they change nothing, and each form still exists then.
        for stale_round in (True, False):
            for role, form in ordered:
                client = clients[role]
                counts[f"{role} forms"] += stale_round
                for case in cases_for(form):
                    if (case.csrf == "stale") != stale_round:
                        continue
                    counts[f"{role} cases"] += 1
                    response = await submit(client, form, case, stale_token)
                    if response.status_code >= 500:
                        counts["5xx"] += 1
                    for problem in problems_with(response, form, case):
                        problems.append(f"{role} POST {form.action} [{case.name}]: {problem}")
                if not await still_signed_in(client):
                    await client.login(site.accounts[role])
    finally:
        for client in clients.values():
            await client.aclose()
    for role in ROLES:
        print(f"form fuzz {role:10} forms {counts[f'{role} forms']:3}  cases {counts[f'{role} cases']:5}")
    print(
        f"form fuzz total: forms {sum(v for k, v in counts.items() if k.endswith('forms'))}, "
        f"cases {sum(v for k, v in counts.items() if k.endswith('cases'))}, 5xx {counts['5xx']}"
    )
    assert problems == [], "\n".join(problems)
