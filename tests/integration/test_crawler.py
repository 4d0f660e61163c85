"""The crawler: every GET page for every role in Korean and English, on the demo data (issue 9, item 1).

For each role and language it visits every GET route the app registers (path ids taken from the demo
data, through the same loaders ``hangang demo`` uses), then the same-site links found on those pages
(bounded), and checks: no 5xx; HTML pages carry ``<html lang>`` for the language and the base layout;
no attribute is glued to another; on Korean pages no sentence from a catalog is left in English.
It prints how many pages it visited per role and language.
"""

from __future__ import annotations

import datetime as dt
import html
import re
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urljoin, urlsplit

import httpx
import pytest

from portal import clock, i18n
from tests.helpers import PortalClient, UserFactory

# Roles as the issue names them, and the demo account that plays each one (None: not signed in).
ROLES: dict[str, str | None] = {
    "anonymous": None,
    "unverified citizen": "newcomer",
    "verified citizen": "citizen",
    "startup": "startup",
    "judge": "judge",
    "official": "official",
    "admin": "admin",
    "poll worker": "poll_worker",
}
MAX_FILLS_PER_ROUTE = 2  # concrete URLs per route template
MAX_LINKS = 25  # followed links per role and language, beyond the routes themselves
MAX_PER_SHAPE = (
    2  # pages per URL shape (ids and query values aside): a list of 80 projects is one shape
)
SITE = "http://testserver"
# The same for every role and language (and the YAML API description takes seconds to render):
# visited once per run, by the first crawl.
SAME_FOR_EVERYONE = ("/schema", "/static/")
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"

# Attribute names a page may use; anything else (e.g. ``requiredmaxlength``) is two attributes glued.
HTML_ATTRIBUTES = frozenset(
    """accept accept-charset accesskey action alt async autocapitalize autocomplete autofocus charset
    checked cite class cols colspan content contenteditable crossorigin datetime decoding defer dir
    dirname disabled download draggable enctype enterkeyhint for form formaction formenctype formmethod
    formnovalidate formtarget headers height hidden high href hreflang http-equiv id inert inputmode
    integrity is itemprop kind label lang list loading low max maxlength media method min minlength
    multiple muted name novalidate open optimum pattern ping placeholder popover poster preload readonly
    referrerpolicy rel required reversed role rows rowspan sandbox scope selected shape size sizes span
    spellcheck src srcdoc srclang srcset start step style tabindex target title translate type usemap
    value width wrap
    viewbox xmlns fill stroke stroke-width d x y x1 x2 y1 y2 cx cy r rx ry points transform
    text-anchor dominant-baseline font-size focusable preserveaspectratio""".split()
)
# A quoted value followed directly by another attribute: ``value="x"required``.
GLUED_AFTER_QUOTE = re.compile(r"""=\s*("[^"]*"|'[^']*')(?=[^\s/>])""")
LATIN_RUN = re.compile(r"[A-Za-z][^\uac00-\ud7a3]*[A-Za-z.!?:)]|[A-Za-z]")
PLACEHOLDER = re.compile(r"%\(\w+\)[sd]|%[sd]")
TEXT_ATTRIBUTES = ("title", "placeholder", "aria-label", "alt")


WORD = re.compile(r"[A-Za-z]{2,}")


@dataclass
class UntranslatedFinder:
    """English sentences that have a Korean translation in a catalog, looked for in Korean page text."""

    whole: set[str] = field(default_factory=set)  # short msgids: only a whole text run counts
    fragments: dict[str, set[str]] = field(
        default_factory=dict
    )  # first word -> literal parts of 2+ words
    data: list[str] = field(
        default_factory=list
    )  # what people typed or imported: English there is data

    @classmethod
    def from_catalogs(cls) -> UntranslatedFinder:
        finder = cls()
        for english, korean in i18n._catalog("ko").items():
            if korean == english or "<" in english:
                continue
            text = " ".join(english.replace("%%", "%").split())
            parts = [p.strip(" .,:;\"'()") for p in PLACEHOLDER.split(text)]
            if len(parts) == 1 and len(WORD.findall(text)) < 3:
                finder.whole.add(text.rstrip("."))
                continue
            for part in parts:
                words = WORD.findall(part)
                if len(words) >= 2:
                    finder.fragments.setdefault(words[0], set()).add(part)
        return finder

    def find(self, texts: list[str]) -> list[str]:
        found = []
        for text in texts:
            for run in LATIN_RUN.findall(" ".join(text.split())):
                run = run.strip()
                if (
                    run.rstrip(".") in self.whole
                    or any(
                        part in run
                        for word in set(WORD.findall(run))
                        for part in self.fragments.get(word, ())
                    )
                ) and not any(run in text for text in self.data):
                    found.append(run)
        return found


# A start tag with its attributes (quoted values may hold ">"), any tag, and what is never shown.
START_TAG = re.compile(r"""<([a-zA-Z][a-zA-Z0-9-]*)((?:[^>"']|"[^"]*"|'[^']*')*)>""")
ANY_TAG = re.compile(r"""</?[a-zA-Z](?:[^>"']|"[^"]*"|'[^']*')*>|<!doctype[^>]*>""", re.I)
ATTRIBUTE = re.compile(r"""([^\s=/>"']+)(?:\s*=\s*("[^"]*"|'[^']*'|[^\s>"']+))?""")
COMMENT = re.compile(r"<!--.*?-->", re.S)
# Text that is not to be translated: what the page marks as English (the API reference's call
# descriptions from the OpenAPI document) and code (field names, commands).
DECLARED_ENGLISH = re.compile(r'<span lang="en">.*?</span>|<code>.*?</code>', re.S)
HIDDEN_BODY = re.compile(
    r"<(script|style)\b((?:[^>\"']|\"[^\"]*\"|'[^']*')*)>.*?</\1\s*>", re.S | re.I
)


@dataclass
class ScannedPage:
    """Links, visible text, the <html lang> and attribute problems of one page.

    Regular expressions rather than html.parser: a few times faster, and the crawler reads ~1,000 pages.
    """

    links: list[str] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)
    html_lang: str | None = None
    glued: list[str] = field(default_factory=list)
    has_header: bool = False
    has_main: bool = False

    @classmethod
    def of(cls, text: str) -> ScannedPage:
        page = cls()
        text = HIDDEN_BODY.sub(r"<\1\2></\1>", COMMENT.sub("", text))
        for tag in START_TAG.finditer(text):
            name, attributes = tag.group(1).lower(), tag.group(2)
            for match in GLUED_AFTER_QUOTE.finditer(attributes):
                following = re.split(r"[\s=>]", attributes[match.end() :], maxsplit=1)[0]
                page.glued.append(f"<{name}>: {following!r} right after a quoted value")
            values: dict[str, str] = {}
            for attribute in ATTRIBUTE.finditer(attributes):
                key, value = attribute.group(1).lower(), attribute.group(2) or ""
                if not (key in HTML_ATTRIBUTES or key.startswith(("data-", "aria-"))):
                    page.glued.append(f"<{name}>: unknown attribute {key!r}")
                values[key] = html.unescape(value[1:-1] if value[:1] in "\"'" else value)
            if name == "html":
                page.html_lang = values.get("lang")
            elif name == "header" and "site-header" in values.get("class", ""):
                page.has_header = True
            elif name == "main" and values.get("id") == "main":
                page.has_main = True
            elif name == "a" and values.get("href"):
                page.links.append(values["href"])
            page.texts.extend(values[a] for a in TEXT_ATTRIBUTES if values.get(a))
        visible = ANY_TAG.sub("\n", DECLARED_ENGLISH.sub("", HIDDEN_BODY.sub("", text)))
        page.texts.extend(html.unescape(t) for t in visible.split("\n") if t.strip())
        return page


@dataclass
class Crawl:
    """What one role saw in one language."""

    role: str
    language: str
    pages: int = 0
    html_pages: int = 0
    statuses: dict[int, int] = field(default_factory=dict)
    problems: dict[str, str] = field(
        default_factory=dict
    )  # problem -> the first page that showed it

    def report(self, url: str, problem: str) -> None:
        self.problems.setdefault(problem, f"[{self.role}/{self.language}] GET {url}")


def url_shape(url: str) -> str:
    """The URL with ids and query values left out: /pb/proposals/7?x=1 -> /pb/proposals/N?x."""
    parts = urlsplit(url)
    return re.sub(r"\d+", "N", parts.path) + "?" + ",".join(sorted(parse_qs(parts.query)))


async def _demo_world(app, users: UserFactory) -> tuple[dict[str, PortalClient | None], dict]:
    """The demo data for demo accounts we can log in as, plus what a few clicks add (a selection,
    decisions that notify, an attachment, a ballot); returns signed-in clients and path ids."""
    from judging.services import attachments, entries
    from judging.services.approvals import approve_selection
    from judging.services.screening import decide_gate
    from judging.services.selection import run_selection
    from judging.tables import Edition, Entry, OrganizationMember, Round
    from portal.demo import DEMO_ACCOUNTS, load_domain_demos, verify_demo_phones
    from proposals.services import review as proposal_review
    from proposals.tables import Proposal
    from tests.integration.test_challenge_setup import entry_form
    from voting.tables import Cycle
    from voting.testing import build_paper_station, build_weighted_cycle, plant_screening_cluster

    accounts = {
        key: await users.create(roles=roles, district=district, verified=verified, email=email)
        for key, email, roles, district, verified in DEMO_ACCOUNTS
    }
    await load_domain_demos({key: a.id for key, a in accounts.items()})
    keyers = [(await users.create(roles=["poll_worker"])).id for _ in range(2)]
    accounts["poll_worker"] = await users.create(roles=["poll_worker"])  # the third person
    await verify_demo_phones({key: a.id for key, a in accounts.items()})  # /account/identity when verified
    official = accounts["official"].id

    # The 2026 challenge: the demo startup's entry fails a gate (it is told why), then a selection
    # is computed and approved by two officials (its exports, the award batch and the results mail).
    editions = [r["id"] for r in await Edition.select(Edition.id).order_by(Edition.id)]
    edition_2026, edition_2027 = editions[0], editions[-1]  # the scored one, the one taking entries
    robotics = (
        await OrganizationMember.select(OrganizationMember.organization)
        .where(OrganizationMember.user == accounts["startup"].id)
        .first()
    )["organization"]
    own_entries = [
        r["id"]
        for r in await Entry.select(Entry.id)
        .where((Entry.organization == robotics) & (Entry.edition == edition_2026))
        .order_by(Entry.id)
    ]
    await decide_gate(official, own_entries[-1], "ai-solution", False, "No model in the service.")
    rounds = {
        r["kind"]: r["id"]
        for r in await Round.select(Round.id, Round.kind).where(Round.edition == edition_2026)
    }
    selection = await run_selection(official, edition_2026, rounds["evaluation"])
    await approve_selection(official, selection)
    await approve_selection(accounts["official2"].id, selection)
    # The 2027 edition: a draft with an attachment.
    draft = await entries.create_entry(accounts["startup"].id, robotics, edition_2027, entry_form())
    attachment = await attachments.add_attachment(accounts["startup"].id, draft, "plan.pdf", PDF)

    # PB: the official decides on one of the citizen's proposals (the citizen is notified).
    cycles = [r["id"] for r in await Cycle.select(Cycle.id).order_by(Cycle.id)]
    own_proposals = [
        r["id"]
        for r in await Proposal.select(Proposal.id)
        .where(Proposal.author == accounts["citizen"].id)
        .order_by(Proposal.id)
    ]
    await proposal_review.review(official, own_proposals[0], True, "Fits the district plan.", None)

    # A voting station of an open cycle with a poll worker (not a demo account: the demo has no stations).
    accounts["poll_worker"] = await users.create(["poll_worker"])
    station = await _station(official, cycles, accounts["poll_worker"].email)

    clients: dict[str, PortalClient | None] = {"anonymous": None}
    for role, key in ROLES.items():
        if key:
            client = PortalClient.for_app(app)
            await client.__aenter__()
            await client.login(accounts[key])
            clients[role] = client
    # The verified citizen (a Gangnam resident) votes in an open approval ballot (receipt pages have
    # content): the first pot of that cycle, city-wide or Gangnam's, that has projects on it.
    citizen = clients["verified citizen"]
    assert citizen is not None
    ballot = await _open_approval_ballot(cycles)
    first = (await Proposal.select(Proposal.id).where(Proposal.pot == ballot[1]).first())["id"]
    cast = await citizen.send_json(
        "PUT", f"/api/v1/pb/cycles/{ballot[0]}/pots/{ballot[1]}/ballot", {"project_ids": [first]}
    )
    assert cast.status_code == 200, cast.text

    ids = await _path_ids(cycles, own_proposals, edition_2026, edition_2027, own_entries, draft,
                          attachment, rounds, accounts["judge"].id)
    ids.insert(0, await _support_ids())  # the demo cycle in its support phase: supports and a discussion
    # A voting station's paper ballots, a batch in each telling state (seen by its poll worker and officials).
    paper = await build_paper_station(ballot[0], ballot[1], [*keyers, accounts["poll_worker"].id])
    ids[:0] = [
        {"station_id": paper["station_id"], "batch_id": paper[name]}
        for name in ("batch_mismatch", "batch_keyed_once", "batch_counted")
    ]
    ids.insert(0, station)
    await plant_screening_cluster(ballot[0], ballot[1])  # the screening report flags a group
    # Weighted channels (the demo weighs none): a committee member and the assembly's counts entered.
    committee = await users.create(["citizen", "committee"], district="11680", verified=True)
    ids.insert(0, await build_weighted_cycle(official, committee.email))
    # A funded project of the published cycle with a photo: third, so that routes taking only a cycle
    # keep their two cycles (in review and in voting); the project's pages link to the cycle's dashboard.
    ids.insert(2, await _delivery_ids(official))
    # Issue 13: the 2027 evaluation round takes bids; an invitation to judge has a link page.
    from tests.pages import _judges_binding

    open_rounds = await Round.select(Round.id, Round.kind).where(Round.edition == edition_2027)
    evaluation_2027 = next(r["id"] for r in open_rounds if r["kind"] == "evaluation")
    ids.append(await _judges_binding(official, evaluation_2027))
    return clients, {"ids": ids, "accounts": accounts}


async def _support_ids() -> dict[str, object]:
    """The demo's cycle in its support phase and its most discussed proposal."""
    from proposals.community_tables import Comment
    from proposals.demo_support import SUPPORT_CYCLE
    from voting.tables import Cycle

    cycle = await Cycle.select(Cycle.id).where(Cycle.name == SUPPORT_CYCLE).first()
    first = await Comment.select(Comment.target_id).order_by(Comment.id).first()
    return {"cycle_id": cycle["id"], "proposal_id": first["target_id"]}


async def _delivery_ids(official: int) -> dict[str, object]:
    """The published cycle's first funded project (the demo gave it milestones and spending) and a photo."""
    from voting.services import delivery, delivery_photos
    from voting.tables import Cycle
    from voting.testing import sample_png

    cycle = (await Cycle.select(Cycle.id).where(Cycle.state == "approved").first())["id"]
    project = (await delivery.funded_projects(cycle))[0].project_id
    photo = await delivery_photos.add_photo(official, cycle, project, sample_png(), "새 산책로 조명이 설치된 강변")
    return {"cycle_id": cycle, "project_id": project, "photo_id": photo}


async def _station(official: int, cycles: list[int], worker_email: str) -> dict[str, object]:
    """An open station in the first cycle taking votes, with the poll worker assigned."""
    from voting.services import cycles as voting
    from voting.services.stations import StationInput, assign_worker, create_station

    cycle = [c for c in cycles if voting.phase_of(await voting.get_cycle(c)) == "voting"][0]
    now = clock.now()
    station = await create_station(official, cycle, StationInput(
        "Gangnam-gu Office", "11680", "426 Hakdong-ro", now - dt.timedelta(hours=1), now + dt.timedelta(hours=8)
    ))
    await assign_worker(official, cycle, station, worker_email)
    return {"cycle_id": cycle, "station_id": station}


async def _open_approval_ballot(cycles: list[int]) -> tuple[int, int] | None:
    """The first open approval ballot a Gangnam-gu resident may fill: (cycle, pot) with projects on it."""
    from proposals.tables import Proposal
    from voting.services import cycles as voting
    from voting.tables import Pot

    for cycle in cycles:
        row = await voting.get_cycle(cycle)
        if voting.phase_of(row) != "voting" or voting.rules_of(row).ballot_kind != "approval":
            continue
        for pot in await Pot.select(Pot.id).where(
            (Pot.cycle == cycle) & ((Pot.district_code.is_null()) | (Pot.district_code == "11680"))
        ):
            if await Proposal.exists().where(Proposal.pot == pot["id"]):
                return cycle, pot["id"]
    return None


async def _path_ids(
    cycles, own_proposals, edition_2026, edition_2027, own_entries, draft, attachment, rounds, judge_id
) -> list[dict[str, object]]:
    """Path ids, the most telling first: each route takes up to MAX_FILLS_PER_ROUTE of them."""
    from judging.citizen_tables import PanelMember
    from judging.tables import Assignment, Entry, Selection, StageDecision
    from portal.connector.tables import OutboxBatch
    from proposals.tables import Proposal
    from voting.tables import Pot

    ids: list[dict[str, object]] = []
    for cycle in cycles:
        ids.append({"cycle_id": cycle, "name": "results.csv"})
        ids.append({"cycle_id": cycle, "name": "participation.xlsx"})  # the participation statistics
        for pot in await Pot.select(Pot.id).where(Pot.cycle == cycle).order_by(Pot.id).limit(2):
            ids.append({"cycle_id": cycle, "pot_id": pot["id"]})
    ids += [{"proposal_id": p} for p in own_proposals[:2]]
    for cycle in cycles[:2]:
        row = await Proposal.select(Proposal.id).where(Proposal.cycle == cycle).first()
        ids.append({"proposal_id": row["id"]})
    ids += [{"edition_id": edition_2026, "entry_id": e} for e in own_entries]
    ids.append({"edition_id": edition_2027, "entry_id": draft})
    screened_out = await Entry.select(Entry.id).where(Entry.status == "screened-out").first()
    ids.append({"edition_id": edition_2026, "entry_id": screened_out["id"]})
    ids.append({"entry_id": draft, "attachment_id": attachment})
    for kind in ("evaluation", "final", "screening"):
        ids.append({"round_id": rounds[kind]})
    # A seat on the 2026 final's citizen panel: its panelist's scoring page (404 for everyone else).
    seat = await PanelMember.select(PanelMember.entries).output(load_json=True).where(
        PanelMember.round == rounds["final"]
    ).first()
    if seat:
        ids.append({"round_id": rounds["final"], "entry_id": seat["entries"][0]})
    ids.append({"round_id": rounds["final"], "name": "blend.xlsx"})
    ids.append({"round_id": rounds["final"], "name": "panel-eligible.csv"})
    for kind in ("final", "evaluation"):
        mine = (
            await Assignment.select(Assignment.entry)
            .where((Assignment.round == rounds[kind]) & (Assignment.judge == judge_id))
            .first()
        )
        if mine:
            ids.append({"round_id": rounds[kind], "entry_id": mine["entry"]})
    for row in await Selection.select(Selection.id):
        ids.append({"selection_id": row["id"], "name": "bundle.zip"})
    # The demo's approved advancements, and their stages' feedback exports.
    for row in await StageDecision.select(StageDecision.id, StageDecision.round):
        ids.append({"decision_id": row["id"], "name": "advancement.zip"})
        ids.append({"round_id": row["round"], "name": "feedback.xlsx"})
    for row in await OutboxBatch.select(OutboxBatch.id).limit(2):
        ids.append({"batch_pk": row["id"]})
    ids += [
        {"token": "an-expired-reset-token"},
        {"file_path": "css/site.css"},
        {"path": "nothing-here"},
    ]
    return ids


async def data_texts() -> list[str]:
    """Names, titles and texts people typed or imported (the demo's are English, Polish or Dutch)."""
    from judging.tables import Edition, Entry, Organization
    from portal.tables import User
    from proposals.tables import Proposal
    from voting.tables import Cycle

    texts: list[str] = []
    for table, columns in (
        (Edition, (Edition.name,)),
        (Cycle, (Cycle.name,)),
        (Organization, (Organization.name,)),
        (User, (User.display_name,)),
        (
            Proposal,
            (Proposal.title, Proposal.summary, Proposal.description, Proposal.review_reason),
        ),
        (
            Entry,
            (
                Entry.title,
                Entry.summary,
                Entry.problem,
                Entry.ai_approach,
                Entry.data_protection,
                Entry.target_users,
                Entry.team,
            ),
        ),
    ):
        for row in await table.select(*columns):
            texts.extend(" ".join(str(value).split()) for value in row.values() if value)
    return texts


def route_urls(app, ids: list[dict[str, object]]) -> list[str]:
    """Every GET route the app registers, with its path parameters filled from ``ids``."""
    urls: list[str] = []
    for route in app.routes:
        if "GET" not in getattr(route, "methods", set()):
            continue
        names = set(route.path_parameters)
        fills = []
        for row in ids:
            if names <= row.keys():
                values = tuple(row[n] for n in sorted(names))
                if values not in fills:
                    fills.append(values)
        assert fills or not names, f"no demo ids for {route.path}"
        for values in fills[:MAX_FILLS_PER_ROUTE] or [()]:
            path = route.path
            for name, value in zip(sorted(names), values, strict=True):
                path = re.sub(r"\{" + name + r":[^}]*\}", str(value), path)
            urls.append(path)
    return urls


def query_urls(ids: list[dict[str, object]]) -> list[str]:
    """Lists with their query parameters (issue 14): a district on the map, sort, filters and pages, garbage too."""
    cycles = list(dict.fromkeys(row["cycle_id"] for row in ids if "cycle_id" in row))[:2]
    urls = []
    for cycle in cycles:
        urls += [
            f"/pb/cycles/{cycle}/proposals?district=11680&sort=title&page=2",
            f"/pb/cycles/{cycle}/proposals?category=climate&page=abc",
            f"/officials/pb/cycles/{cycle}/proposals?status=submitted&sort=-cost&page=2",
        ]
    return urls


def _same_site(base: str, href: str) -> str | None:
    """The local path of a link, or None for other sites, mail links and in-page anchors."""
    url = urljoin(SITE + base, href.split("#")[0])
    parts = urlsplit(url)
    if parts.scheme + "://" + parts.netloc != SITE or not href or href.startswith("#"):
        return None
    return parts.path + (f"?{parts.query}" if parts.query else "")


def check_page(
    crawl: Crawl,
    url: str,
    response: httpx.Response,
    expected_language: str,
    finder: UntranslatedFinder,
) -> list[str]:
    """Record problems of one response; returns its same-site links."""
    if response.status_code >= 500:
        crawl.report(url, f"{response.status_code} on {url_shape(url)}")
    if not response.headers.get("content-type", "").startswith("text/html"):
        return []
    crawl.html_pages += 1
    parser = ScannedPage.of(response.text)
    for glued in parser.glued:
        crawl.report(url, f"glued attribute {glued}")
    if url.startswith("/schema"):
        # Litestar's API description pages (and its own 404 under /schema/), not portal pages.
        return [link for href in parser.links if (link := _same_site(url, href))]
    if parser.html_lang != expected_language:
        crawl.report(
            url,
            f"<html lang={parser.html_lang!r}> on {url_shape(url)}, expected {expected_language!r}",
        )
    if not (parser.has_header and parser.has_main):
        crawl.report(url, f"no base layout (site header, <main id=main>) on {url_shape(url)}")
    if expected_language == "ko":
        for text in finder.find(parser.texts):
            crawl.report(url, f"untranslated {text!r}")
    return [link for href in parser.links if (link := _same_site(url, href))]


async def crawl_as(
    app, crawl: Crawl, client: PortalClient | None, start: list[str], finder: UntranslatedFinder
) -> None:
    """Visit ``start`` then the links found, breadth first, up to MAX_LINKS more pages."""
    anonymous = client is None
    own = None
    if client is None:
        own = client = PortalClient.for_app(app)
        await client.__aenter__()
        client.headers["accept-language"] = crawl.language
    try:
        queue = deque(start)
        seen = set(start)
        shapes = Counter(url_shape(u) for u in start)
        links_left = MAX_LINKS
        while queue:
            url = queue.popleft()
            response = await client.get(url)
            crawl.pages += 1
            crawl.statuses[response.status_code] = crawl.statuses.get(response.status_code, 0) + 1
            # Anonymous visitors may pick a language with ?lang=; signed-in accounts keep their own.
            asked = parse_qs(urlsplit(url).query).get("lang", [None])[0]
            expected = asked if anonymous and asked in i18n.LANGUAGES else crawl.language
            links = check_page(crawl, url, response, expected, finder)
            if response.is_redirect and (target := _same_site(url, response.headers["location"])):
                links.append(target)
            for link in links:
                shape = url_shape(link)
                if (
                    link in seen
                    or links_left <= 0
                    or shapes[shape] >= MAX_PER_SHAPE
                    or link.startswith(SAME_FOR_EVERYONE)
                ):
                    continue
                seen.add(link)
                shapes[shape] += 1
                queue.append(link)
                links_left -= 1
    finally:
        if own is not None:
            await own.__aexit__(None, None, None)


@pytest.mark.slow
async def test_every_page_for_every_role_in_both_languages(app, users, capsys, connection_pool):
    await crawl_everything(app, users, capsys)


async def crawl_everything(app, users: UserFactory, capsys) -> None:
    from portal.tables import User

    started, started_cpu = time.monotonic(), time.process_time()
    clients, world = await _demo_world(app, users)
    loaded, loaded_cpu = time.monotonic(), time.process_time()
    start = route_urls(app, world["ids"]) + query_urls(world["ids"])
    finder = UntranslatedFinder.from_catalogs()
    finder.data = await data_texts()
    crawls: list[Crawl] = []
    try:
        for language in ("en", "ko"):
            await User.update({User.language: language}).where(
                User.id.is_in([a.id for a in world["accounts"].values()])
            )
            for role in ROLES:
                crawl = Crawl(role, language)
                urls = [u for u in start if not (crawls and u.startswith(SAME_FOR_EVERYONE))]
                await crawl_as(app, crawl, clients[role], urls, finder)
                crawls.append(crawl)
    finally:
        for client in clients.values():
            if client is not None:
                await client.__aexit__(None, None, None)

    problems: dict[str, str] = {}
    for c in crawls:
        for problem, where in c.problems.items():
            problems.setdefault(problem, where)
    with capsys.disabled():
        print(f"\ncrawler: {len(start)} route URLs; pages visited per role and language:")
        for c in crawls:
            codes = ", ".join(f"{code}: {n}" for code, n in sorted(c.statuses.items()))
            print(f"  {c.role:20} {c.language}  {c.pages:4} pages ({c.html_pages} HTML; {codes})")
        total = sum(c.pages for c in crawls)
        server_errors = sum(n for c in crawls for code, n in c.statuses.items() if code >= 500)
        print(f"  total {total} pages, {server_errors} with 5xx, {len(problems)} distinct problems")
        print(
            f"  demo data {loaded - started:.1f} s ({loaded_cpu - started_cpu:.1f} s CPU),"
            f" crawl {time.monotonic() - loaded:.1f} s ({time.process_time() - loaded_cpu:.1f} s CPU)"
        )
    shared = sum(u.startswith(SAME_FOR_EVERYONE) for u in start)
    assert all(c.pages >= len(start) - shared for c in crawls)
    listed = "\n".join(f"{where}: {problem}" for problem, where in list(problems.items())[:60])
    assert not problems, f"{len(problems)} distinct problems:\n{listed}"


def test_the_checks_see_what_they_look_for():
    """The page checks find a glued attribute, an untranslated sentence, a missing lang and layout."""
    finder = UntranslatedFinder.from_catalogs()
    english = next(iter(next(iter(finder.fragments.values()))))
    crawl = Crawl("anonymous", "ko")
    html = (
        '<!doctype html><html lang="en"><body><input requiredmaxlength="254">'
        f'<input value="x"required><p>{english}</p><p title="{english}">한국어</p></body></html>'
    )
    response = httpx.Response(200, headers={"content-type": "text/html"}, text=html)
    check_page(crawl, "/x", response, "ko", finder)
    text = "\n".join(crawl.problems)
    assert (
        "unknown attribute 'requiredmaxlength'" in text
        and "'required' right after a quoted value" in text
    )
    assert "lang='en'" in text and "base layout" in text
    assert text.count("untranslated") == 1
    clean = Crawl("anonymous", "ko")
    korean = (
        '<!doctype html><html lang="ko"><body><header class="site-header"></header>'
        '<main id="main"><input required maxlength="254"><p>예산 Seoul PB 2027</p></main></body></html>'
    )
    check_page(
        clean,
        "/x",
        httpx.Response(200, headers={"content-type": "text/html"}, text=korean),
        "ko",
        finder,
    )
    assert not clean.problems, clean.problems
    assert (
        _same_site("/pb", "//evil.example/x") is None
        and _same_site("/pb", "cycles/1#top") == "/cycles/1"
    )
