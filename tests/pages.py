"""Page discovery shared by the crawler and the form fuzzer: small demo-like data, GET routes, forms.

``build_site`` fills an empty database with a little of everything the demo has (accounts for every role,
PB cycles in each phase with each ballot kind, proposals, a challenge edition taking entries and one being
judged); ``page_urls`` turns every GET route the app registers into concrete paths using those ids;
``parse_forms`` reads the POST forms of a page. Self-contained: it imports only the app's services and
``tests.helpers``.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urljoin, urlsplit

from portal import clock
from tests.helpers import Account, UserFactory

ROLES = ("anonymous", "newcomer", "citizen", "startup", "judge", "official", "admin", "poll_worker")

# GET routes that are downloads, machine documents or plumbing, not pages with forms.
SKIPPED_ROUTE_PREFIXES = ("/static/", "/schema", "/api/", "/healthz")
PARAM = re.compile(r"\{(\w+)(?::\w+)?\}")


@dataclass
class Site:
    """The accounts and the ids a crawl fills path parameters with (one binding per consistent set)."""

    accounts: dict[str, Account] = field(default_factory=dict)
    bindings: list[dict[str, Any]] = field(default_factory=list)


async def build_site(users: UserFactory) -> Site:
    """Demo-like data, small enough for a test: every page kind exists at least once."""
    from judging.services import attachments, entries, intake
    from judging.services.assignment import run_assignment
    from judging.services.editions import (
        EditionForm,
        create_edition,
        default_rubric,
        rounds_of,
        update_round,
    )
    from judging.services.reviews import save_review
    from judging.services.screening import decide_gate
    from judging.services.selection import run_selection
    from judging.tables import DEFAULT_GATES
    from proposals.tables import Proposal
    from voting.compute.rules import BallotRules
    from voting.testing import (
        build_cycle,
        build_paper_station,
        build_weighted_cycle,
        plant_screening_cluster,
    )

    site = Site()
    site.accounts = {
        "newcomer": await users.create(["citizen"], district="11110", verified=False),
        "citizen": await users.create(["citizen"], district="11680", verified=True),
        "startup": await users.create(["startup", "citizen"], district="11680", verified=True),
        "judge": await users.create(["judge"]),
        "official": await users.create(["official"]),
        "admin": await users.create(["admin", "official"]),
        "poll_worker": await users.create(["poll_worker"]),
    }
    official = site.accounts["official"].id
    startup = site.accounts["startup"].id
    judge = site.accounts["judge"].id
    now = clock.now()

    # The challenge edition being judged: intake closed, entries screened in, judges assigned.
    judged = await create_edition(
        official,
        EditionForm(
            name="AI 50 Challenge judged",
            intake_opens_at=now - dt.timedelta(days=2),
            intake_closes_at=now + dt.timedelta(hours=1),
            winners=2,
            quotas={},
            max_per_organization=1,
            seed=7,
        ),
    )
    judged_entries = []
    for i, number in enumerate(("2218100019", "2228100026")):
        org = await intake.create_organization(startup, f"Fuzz Org {i}", number, "startup", "2020")
        entry_id = await entries.create_entry(
            startup, org, judged, _entry_form(entries, f"Judged entry {i}")
        )
        await entries.submit_entry(startup, entry_id)
        judged_entries.append((org, entry_id))
    clock.advance(dt.timedelta(hours=2))
    for _, entry_id in judged_entries:
        for gate in DEFAULT_GATES:
            await decide_gate(official, entry_id, gate, True, "")
    rounds = {r["kind"]: r for r in await rounds_of(judged)}
    evaluation = rounds["evaluation"]
    await update_round(official, evaluation["id"], evaluation["deadline"], 1, [judge])
    await run_assignment(official, evaluation["id"])
    marks = {c["key"]: 6 for c in default_rubric()}
    for _, entry_id in judged_entries:
        await save_review(judge, evaluation["id"], entry_id, marks, {}, 3)
    selection = await run_selection(official, judged, evaluation["id"])
    # Stages: a proposed advancement of the evaluation stage, a rubric still editable in the open edition.
    from judging.services import stages

    await stages.update_stage(official, evaluation["id"], "서류 심사", stages.RuleForm("count", 1))
    decision = await stages.compute_advancement(official, evaluation["id"])
    # The evaluation round has a panel not drawn yet: the draw form is on its page.
    from judging.services.citizens import CitizenForm, update_citizen_settings

    await update_citizen_settings(
        official, evaluation["id"], CitizenForm("panel", 1, 5, ("impact", "innovation"), 70, 30, 0)
    )

    # Feedback to applicants: a decided edition whose stage's comments wait for moderation.
    decided_round, decided_entry = await _decided_stage(site, judged_entries[1][0])
    # Its final holds the entry that advanced: a drawn citizen panel (the citizen sits on it), a public vote.
    final = await _citizen_stage(official, await _next_stage(decided_round))

    # The edition taking entries: the startup has a draft with an attachment.
    now = clock.now()
    open_edition = await create_edition(
        official,
        EditionForm(
            name="AI 50 Challenge open",
            intake_opens_at=now - dt.timedelta(days=1),
            intake_closes_at=now + dt.timedelta(days=20),
            winners=2,
            quotas={},
            max_per_organization=1,
            seed=8,
        ),
    )
    org, _ = judged_entries[0]
    draft = await entries.create_entry(
        startup, org, open_edition, _entry_form(entries, "Draft entry")
    )
    attachment = await attachments.add_attachment(
        startup, draft, "plan.pdf", b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
    )
    await intake.invite_member(startup, org, site.accounts["citizen"].email)
    from judging.tables import OrganizationInvitation

    invitation = await OrganizationInvitation.select(OrganizationInvitation.id).first()

    # PB: a cycle taking proposals (with one by the citizen), and one cycle in voting per ballot kind.
    intake = await build_cycle(
        official, phase="proposals", name="Fuzz PB intake", project_costs=[1_000_000_000]
    )
    await Proposal.update(
        {Proposal.status: "submitted", Proposal.author: site.accounts["citizen"].id}
    ).where(Proposal.cycle == intake.id)
    proposal = (await Proposal.select(Proposal.id).where(Proposal.cycle == intake.id).first())["id"]
    site.bindings.append(await _support_binding(official, site.accounts))
    kinds = {
        "approval": BallotRules(ballot_kind="approval", min_projects=1, max_projects=3),
        "knapsack": BallotRules(ballot_kind="knapsack"),
        "cumulative": BallotRules(
            ballot_kind="cumulative", total_points=10, max_points_per_project=5
        ),
    }
    site.bindings.append(
        {"cycle_id": intake.id, "pot_id": intake.city_pot, "proposal_id": proposal}
    )
    for kind, rules in kinds.items():
        built = await build_cycle(official, phase="voting", rules=rules, name=f"Fuzz PB {kind}")
        site.bindings.append({"cycle_id": built.id, "pot_id": built.pots["11680"]})
        site.bindings.append({"cycle_id": built.id, "pot_id": built.city_pot})
        if kind == "approval":  # a voting station's paper ballots: a batch in each telling state
            helpers = [(await users.create(["poll_worker"])).id for _ in range(2)]
            helpers.append(site.accounts["poll_worker"].id)  # the third person: keys, resolves
            paper = await build_paper_station(built.id, built.city_pot, helpers)
            site.bindings += [
                {"station_id": paper["station_id"], "batch_id": paper[name]}
                for name in ("batch_keyed_once", "batch_mismatch", "batch_counted")
            ]
    site.bindings.append(await _station_binding(official, built.id, site.accounts["poll_worker"]))
    # The screening page: one flagged group to quarantine, one quarantined group to release.
    await plant_screening_cluster(built.id, built.city_pot)
    await plant_screening_cluster(built.id, built.city_pot, address="192.0.2.20", first_user=2_000_000)
    from voting.services.screening import quarantine_group, report_of

    flagged = [f for f in (await report_of(built.id)).flags if f.quarantinable]
    await quarantine_group(official, built.id, flagged[-1].group_id, "Planted for the fuzzer")
    # Weighted channels: a committee member to remove, assembly counts to correct. First, so that the
    # channel forms are fuzzed where they take input (elsewhere they answer "no assembly channel").
    committee = await users.create(["citizen", "committee"], district="11680", verified=True)
    site.bindings.insert(0, await build_weighted_cycle(official, committee.email))

    site.bindings.append(await _delivery_binding(official, (await users.create(["official"])).id))

    site.bindings.append(
        {
            "edition_id": judged,
            "entry_id": judged_entries[0][1],
            "round_id": evaluation["id"],
            "organization_id": org,
            "invitation_id": invitation["id"],
            "user_id": site.accounts["newcomer"].id,
            "selection_id": selection,
            "decision_id": decision,
        }
    )
    site.bindings.append({"round_id": decided_round, "entry_id": decided_entry})
    open_evaluation = {r["kind"]: r for r in await rounds_of(open_edition)}["evaluation"]
    site.bindings.append(
        {"edition_id": open_edition, "entry_id": draft, "attachment_id": attachment,
         "round_id": open_evaluation["id"]}
    )
    # The judged edition's final: a drawn citizen panel (the citizen sits on it) and a public vote.
    site.bindings.append({"round_id": final, "entry_id": decided_entry})
    # Bids: a later stage offers only the entries that advanced into it, so the decided stage's next one.
    site.bindings.append(await _judges_binding(official, final))
    # Follow and notify: the citizen follows the intake cycle and has a notice to mark read.
    from portal import notifications

    await notifications.follow(site.accounts["citizen"].id, "cycle", intake.id)
    await notifications.announce(
        "fuzz:voting-opens", "voting-opens", "Voting has opened in %(cycle)s. It closes on %(closes)s.",
        users=[site.accounts["citizen"].id], params={"cycle": "Fuzz PB intake", "closes": "2027-03-31 18:00 KST"},
        link=f"/pb/cycles/{intake.id}",
    )
    return site


async def _support_binding(official: int, accounts: dict[str, Account]) -> dict[str, Any]:
    """A cycle in its support phase: a supported proposal with a comment, a reply, a report and a hidden
    comment (the discussion and moderation forms), and the support phase's officials' page."""
    from proposals.services import comments, support
    from proposals.testing import as_resident, build_support_cycle

    built = await build_support_cycle(
        official,
        cutoff=1,
        proposals={"Fuzz support city": None, "Fuzz support Gangnam": "11680"},
        author_id=accounts["startup"].id,
        name="Fuzz PB support",
    )
    proposal = built.proposals["Fuzz support city"]
    startup = await as_resident(accounts["startup"].id)
    citizen = await as_resident(accounts["citizen"].id)
    await support.support(startup, proposal)
    first = await comments.post_comment(startup, "proposal", proposal, "Where? https://example.kr")
    await comments.post_comment(citizen, "proposal", proposal, "Near the station.", first)
    await comments.report_comment(citizen, first, "Looks like an advert")
    hidden = await comments.post_comment(startup, "proposal", proposal, "Off topic")
    await comments.hide_comment(official, hidden, "Off topic for this proposal")
    return {"cycle_id": built.id, "pot_id": built.cycle.city_pot, "proposal_id": proposal}


async def _delivery_binding(official: int, second_official: int) -> dict[str, Any]:
    """A funded project of an approved cycle with a milestone, a photo and a payment to update or remove."""
    from voting.services import delivery, delivery_photos, delivery_spending
    from voting.testing import build_funded_cycle, sample_png

    built = await build_funded_cycle((official, second_official), name="Fuzz PB funded")
    project = built.funded[0]
    closed_on = (await delivery.delivery_of(built.id, project)).vote_closed_on
    milestone = await delivery.add_milestone(
        official, built.id, project,
        delivery.MilestoneInput(title="Design approved", due_on=closed_on + dt.timedelta(days=30)),
    )
    photo = await delivery_photos.add_photo(official, built.id, project, sample_png(), "The riverside path")
    await delivery_spending.add_payment(official, built.id, project, 1_000_000, closed_on, "Design contract")
    payment = (await delivery.delivery_of(built.id, project)).payments[0].id
    return {
        "cycle_id": built.id, "project_id": project, "milestone_id": milestone,
        "photo_id": photo, "payment_id": payment,
    }


async def _next_stage(round_id: int) -> int:
    """The stage after ``round_id`` in its edition."""
    from judging.tables import Round

    stage = await Round.select(Round.edition, Round.position).where(Round.id == round_id).first()
    following = await (
        Round.select(Round.id)
        .where((Round.edition == stage["edition"]) & (Round.position > stage["position"]))
        .order_by(Round.position)
        .first()
    )
    return following["id"]


async def _citizen_stage(official: int, round_id: int) -> int:
    """A stage with a panel of every eligible resident (so the citizen account is drawn) and a public vote."""
    from judging.services.citizens import CitizenForm, update_citizen_settings
    from judging.services.panel import draw_panel, eligible_residents

    size = len(await eligible_residents(round_id, clock.now().date()))
    form = CitizenForm("panel+public", size, 13, ("impact", "feasibility"), 60, 30, 10)
    await update_citizen_settings(official, round_id, form)
    await draw_panel(official, round_id)
    return round_id


async def _judges_binding(official: int, final_round: int) -> dict[str, Any]:
    """Issue 13: a round still taking bids (a final holding an advanced entry) and an invitation to judge
    someone without an account (its link page is crawled; only the invitee could accept it)."""
    import re as _re

    from judging.services import judge_invitations
    from portal.mail import development_outbox

    invite = judge_invitations.check_invite("Invitee", "invitee@example.kr", ["welfare"], [])
    await judge_invitations.invite_judge(official, invite)
    token = _re.search(r"/judging/invitations/([A-Za-z0-9_\-]+)", development_outbox.sent[-1].body).group(1)
    return {"round_id": final_round, "token": token}


async def _decided_stage(site: Site, organization: int) -> tuple[int, int]:
    """An edition whose evaluation stage two officials decided, with one entry's review commented
    (one comment kept private by the judge): the moderation and feedback pages and their forms."""
    from judging.services import entries, stages
    from judging.services.assignment import run_assignment
    from judging.services.editions import EditionForm, create_edition, rounds_of, update_round
    from judging.services.reviews import save_review
    from judging.services.screening import decide_gate
    from judging.tables import DEFAULT_GATES

    official, startup = site.accounts["official"].id, site.accounts["startup"].id
    judge = site.accounts["judge"].id
    now = clock.now()
    edition = await create_edition(
        official,
        EditionForm(
            name="AI 50 Challenge decided",
            intake_opens_at=now - dt.timedelta(days=1),
            intake_closes_at=now + dt.timedelta(hours=1),
            winners=1,
            quotas={},
            max_per_organization=1,
            seed=9,
        ),
    )
    entry = await entries.create_entry(
        startup, organization, edition, _entry_form(entries, "Entry with feedback")
    )
    await entries.submit_entry(startup, entry)
    clock.advance(dt.timedelta(hours=2))
    for gate in DEFAULT_GATES:
        await decide_gate(official, entry, gate, True, "")
    stage = {r["kind"]: r for r in await rounds_of(edition)}["evaluation"]
    await update_round(official, stage["id"], stage["deadline"], 1, [judge])
    await run_assignment(official, stage["id"])
    keys = [c["key"] for c in stage["rubric"]]
    comments = {k: f"Comment on {k}" for k in keys}
    await save_review(judge, stage["id"], entry, dict.fromkeys(keys, 7), comments, 3, keys[:1])
    await stages.update_stage(official, stage["id"], "", stages.RuleForm("count", 1))
    decision = await stages.compute_advancement(official, stage["id"])
    await stages.approve_advancement(official, decision)
    await stages.approve_advancement(site.accounts["admin"].id, decision)
    return stage["id"], entry


async def _station_binding(official: int, cycle_id: int, worker: Account) -> dict[str, Any]:
    """An open voting station of a cycle with the poll worker assigned to it."""
    from voting.services.stations import StationInput, assign_worker, create_station

    now = clock.now()
    station = await create_station(
        official, cycle_id,
        StationInput("Gangnam-gu Office", "11680", "426 Hakdong-ro", now - dt.timedelta(hours=1), now + dt.timedelta(hours=8)),
    )
    await assign_worker(official, cycle_id, station, worker.email)
    return {"cycle_id": cycle_id, "station_id": station}


def _entry_form(entries: Any, title: str) -> Any:
    return entries.EntryForm(
        title=title,
        summary="Predicts bus arrivals.",
        problem="Waiting in the cold.",
        ai_approach="Gradient boosting.",
        data_protection="Only aggregated GPS data.",
        target_users="Commuters.",
        category="transportation",
        sector="public",
        districts=["11680"],
        team="Three engineers.",
        demo_url="https://demo.example.kr",
    )


def get_routes(app: Any) -> list[str]:
    """Every GET route template the app registers (pages only: no static files, schema or API)."""
    found = []
    for route in app.routes:
        if "GET" in getattr(route, "methods", ()) and not route.path.startswith(
            SKIPPED_ROUTE_PREFIXES
        ):
            found.append(route.path)
    return sorted(set(found))


def fill(template: str, binding: dict[str, Any]) -> str | None:
    """The route with its parameters taken from ``binding``; None when the binding lacks one."""
    names = PARAM.findall(template)
    if any(name not in binding for name in names):
        return None
    return PARAM.sub(lambda m: str(binding[m.group(1)]), template)


def page_urls(app: Any, site: Site) -> list[str]:
    """Concrete paths for every GET page route, one per binding that names all its parameters."""
    urls: list[str] = []
    for template in get_routes(app):
        if (
            "/exports/" in template
            or "/export/" in template
            or template.endswith(("/image", "/thumbnail", "/receipt"))
        ):
            continue
        candidates = (
            [template] if not PARAM.search(template) else [fill(template, b) for b in site.bindings]
        )
        for url in candidates:
            if url and url not in urls:
                urls.append(url)
    return urls


# ---------------------------------------------------------------- forms


@dataclass
class Field:
    """One control of a form, as the browser would submit it."""

    name: str
    kind: str  # text, number, email, password, hidden, checkbox, radio, select, textarea, file, date, ...
    value: str = ""
    checked: bool = False
    options: list[str] = field(default_factory=list)
    id: str = ""
    invalid: bool = False


@dataclass
class Form:
    action: str
    enctype: str
    fields: list[Field] = field(default_factory=list)
    page: str = ""
    kind: str = (
        ""  # the form's data-kind (a ballot's kind), so each kind of ballot is a form of its own
    )

    def values(self) -> list[tuple[str, str]]:
        """What submitting the form untouched sends (checked boxes, selected options, typed text)."""
        out: list[tuple[str, str]] = []
        for f in self.fields:
            if f.kind in ("checkbox", "radio"):
                if f.checked:
                    out.append((f.name, f.value or "on"))
            elif f.kind != "file":
                out.append((f.name, f.value))
        return out

    @property
    def names(self) -> list[str]:
        seen: list[str] = []
        for f in self.fields:
            if f.name not in seen:
                seen.append(f.name)
        return seen


class _FormParser(HTMLParser):
    def __init__(self, base: str) -> None:
        super().__init__(convert_charrefs=True)
        self.base = base
        self.forms: list[Form] = []
        self.ids: set[str] = set()
        self.anchors: list[str] = []  # fragment links of error summaries
        self._form: Form | None = None
        self._select: Field | None = None
        self._option: dict[str, Any] | None = None
        self._textarea: Field | None = None
        self._alert_depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: (v or "") for k, v in attrs}
        if "id" in a:
            self.ids.add(a["id"])
        self._track_alert(tag, a)
        if tag == "form":
            if a.get("method", "get").lower() == "post":
                action = urljoin(self.base, a.get("action") or self.base)
                self._form = Form(
                    urlsplit(action).path
                    + (f"?{urlsplit(action).query}" if urlsplit(action).query else ""),
                    a.get("enctype", ""),
                    page=self.base,
                    kind=a.get("data-kind", ""),
                )
            return
        form = self._form
        if form is None:
            return
        invalid = a.get("aria-invalid") == "true"
        if tag == "input" and a.get("name") and "disabled" not in a:
            kind = a.get("type", "text").lower()
            if kind in ("submit", "button", "image", "reset"):
                return
            form.fields.append(
                Field(
                    a["name"],
                    kind,
                    a.get("value", ""),
                    "checked" in a,
                    id=a.get("id", ""),
                    invalid=invalid,
                )
            )
        elif tag == "textarea" and a.get("name") and "disabled" not in a:
            self._textarea = Field(a["name"], "textarea", "", id=a.get("id", ""), invalid=invalid)
            form.fields.append(self._textarea)
        elif tag == "select" and a.get("name") and "disabled" not in a:
            self._select = Field(a["name"], "select", "", id=a.get("id", ""), invalid=invalid)
            form.fields.append(self._select)
        elif tag == "option" and self._select is not None:
            self._option = {"value": a.get("value"), "selected": "selected" in a, "text": ""}

    def _track_alert(self, tag: str, a: dict[str, str]) -> None:
        """Follow error summaries (``div.alert``) and collect the fragment links inside them."""
        if tag == "div" and "alert" in a.get("class", "").split():
            self._alert_depth = 1
        elif tag == "div" and self._alert_depth:
            self._alert_depth += 1
        if tag == "a" and self._alert_depth and a.get("href", "").startswith("#"):
            self.anchors.append(a["href"][1:])

    def handle_data(self, data: str) -> None:
        if self._textarea is not None:
            self._textarea.value += data
        if self._option is not None:
            self._option["text"] += data

    def _close_option(self) -> None:
        if self._option is not None and self._select is not None:
            value = (
                self._option["value"]
                if self._option["value"] is not None
                else self._option["text"].strip()
            )
            self._select.options.append(value)
            if self._option["selected"] or len(self._select.options) == 1:
                self._select.value = value
            self._option = None

    def handle_endtag(self, tag: str) -> None:
        if tag == "div" and self._alert_depth:
            self._alert_depth -= 1
        if tag == "option":
            self._close_option()
        elif tag == "select":
            self._close_option()
            self._select = None
        elif tag == "textarea":
            if self._textarea is not None and self._textarea.value.startswith("\n"):
                self._textarea.value = self._textarea.value[1:]  # HTML drops one leading newline
            self._textarea = None
        elif tag == "form" and self._form is not None:
            self.forms.append(self._form)
            self._form = None


@dataclass
class ParsedPage:
    forms: list[Form]
    ids: set[str]
    error_anchors: list[str]


def parse_page(html: str, url: str) -> ParsedPage:
    """The POST forms of a page, every element id, and the targets of its error summary links."""
    parser = _FormParser(url)
    parser.feed(html)
    parser.close()
    return ParsedPage(parser.forms, parser.ids, parser.anchors)


def parse_forms(html: str, url: str) -> list[Form]:
    return parse_page(html, url).forms


def route_of(path: str) -> str:
    """A form's action with its ids replaced, so one form per route is fuzzed (not one per row)."""
    return re.sub(r"/\d+(?=/|$|\?)", "/{id}", path.split("?")[0])


def form_key(form: Form) -> str:
    """One form per route and kind (an approval, a knapsack and a cumulative ballot are three forms)."""
    return f"{route_of(form.action)} {form.kind}".strip()
