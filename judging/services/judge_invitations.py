"""Inviting judges: officials invite by email (one form) or import a CSV; the invitee accepts through
the mailed link and gets the judge role.

The link's token (stored only as a SHA-256) proves the mailbox: the portal does not verify email
addresses at registration, and the judge role is privileged, so an in-portal notice alone must not
grant it. An existing account with that address also gets an in-portal notification, which points to
``/judging/invitations`` and tells them to open the mailed link.

CSV import is all or nothing: every row is checked first; if any row is wrong, nothing is imported
and the report lists each wrong row with its line, column and problem.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import secrets
from dataclasses import dataclass, field

from judging.categories import CATEGORIES, CATEGORY_LABELS
from judging.services.intake import normalise_registration_number
from judging.tables import JudgeInvitation, JudgeProfile
from portal import accounts, audit, clock, i18n
from portal.db import write_transaction
from portal.errors import DomainError, InvalidInput, NotFoundError
from portal.mail import send_mail
from portal.settings import get_settings
from portal.tables import User

CSV_COLUMNS = ("name", "email", "expertise", "organizations")
MAX_ROWS = 500
MAX_ORGANIZATIONS = 20
INVITATION_DAYS = 30


@dataclass(frozen=True)
class JudgeInvite:
    """One invitation, checked: who, their expertise categories and registration numbers."""

    email: str
    name: str = ""
    expertise: tuple[str, ...] = ()
    organizations: tuple[str, ...] = ()


@dataclass(frozen=True)
class RowProblem:
    line: int
    column: str
    message: str  # translated


@dataclass
class ImportReport:
    invited: int = 0
    problems: list[RowProblem] = field(default_factory=list)


@dataclass(frozen=True)
class InvitationView:
    id: int
    email: str
    name: str
    expertise: list[str]
    created_at: dt.datetime
    accepted_at: dt.datetime | None
    expired: bool


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _split(cell: str) -> list[str]:
    return [part.strip() for part in (cell or "").replace(",", ";").split(";") if part.strip()]


def _expertise(values: list[str], field_name: str) -> tuple[str, ...]:
    by_name = {c.lower(): c for c in CATEGORIES}
    for c in CATEGORIES:  # the labels in both languages are accepted too
        for language in i18n.LANGUAGES:
            by_name[i18n.translate(CATEGORY_LABELS[c], language).lower()] = c
    found = []
    for value in values:
        key = by_name.get(value.lower())
        if key is None:
            raise InvalidInput("Unknown expertise category %(category)s.", field=field_name, category=value[:40])
        if key not in found:
            found.append(key)
    return tuple(found)


def check_invite(name: str, email: str, expertise: list[str], organizations: list[str]) -> JudgeInvite:
    """Validate one invitation (the form and each CSV row); errors name the field."""
    clean_email = accounts.validate_email(email)
    clean_name = (name or "").strip()
    if len(clean_name) > 80 or any(ord(ch) < 32 for ch in clean_name):
        raise InvalidInput("The display name must have 1 to 80 characters.", field="name")
    if len(organizations) > MAX_ORGANIZATIONS:
        raise InvalidInput("List at most %(limit)s organizations.", field="organizations", limit=MAX_ORGANIZATIONS)
    numbers = []
    for value in organizations:
        try:
            numbers.append(normalise_registration_number(value))
        except InvalidInput as exc:
            raise InvalidInput(exc.message, field="organizations", **exc.params) from None
    return JudgeInvite(clean_email, clean_name, _expertise(expertise, "expertise"), tuple(dict.fromkeys(numbers)))


async def invite_judge(official_id: int, invite: JudgeInvite) -> int:
    """Record the invitation (a pending one for the address is replaced), then notify and mail."""
    if await _is_judge(invite.email):
        raise InvalidInput("This person is already a judge.", field="email")
    token = secrets.token_urlsafe(32)
    async with write_transaction():
        invitation_id = await _store(official_id, invite, token)
    await _tell(invite, token)
    return invitation_id


async def _is_judge(email: str) -> bool:
    row = await User.select(User.roles).where(User.email == email).first()
    return row is not None and "judge" in row["roles"].split(",")


async def _store(official_id: int, invite: JudgeInvite, token: str) -> int:
    """Inside the caller's transaction: one pending invitation per address, audited."""
    await JudgeInvitation.delete().where(
        (JudgeInvitation.email == invite.email) & JudgeInvitation.accepted_at.is_null()
    )
    row = JudgeInvitation(
        email=invite.email,
        name=invite.name,
        expertise=list(invite.expertise),
        organizations=list(invite.organizations),
        token_hash=_token_hash(token),
        invited_by=official_id,
        created_at=clock.now(),
    )
    await row.save()
    await audit.record(
        "challenge.judge.invited",
        actor_id=official_id,
        subject=f"judge-invitation:{row.id}",
        expertise=list(invite.expertise),
        organizations=len(invite.organizations),
    )
    return row.id


async def _tell(invite: JudgeInvite, token: str) -> None:
    """The mail carries the link; an existing account also gets a notice in the portal (no link token)."""
    account = await User.select(User.id, User.language).where(User.email == invite.email).first()
    language = account["language"] if account else i18n.DEFAULT_LANGUAGE
    link = f"{get_settings().base_url}/judging/invitations/{token}"
    await send_mail(
        invite.email,
        i18n.translate("You are invited to judge the AI 50 Challenge", language),
        i18n.translate(
            "The Seoul Metropolitan Government invites you to judge the AI 50 Challenge. Open %(url)s to "
            "accept; if you have no Hangang Portal account yet, register with this email address first. "
            "The link works for %(days)s days.",
            language,
            url=link,
            days=INVITATION_DAYS,
        ),
    )
    if account:
        await accounts.notify(
            account["id"],
            "You are invited to judge the AI 50 Challenge. Open the link in the invitation mail to accept.",
            "/judging/invitations",
        )


async def import_judges_csv(official_id: int, text: str) -> ImportReport:
    """Invite every row of a ``name,email,expertise,organizations`` CSV, or none if any row is wrong."""
    report = ImportReport()
    invites = _parse_csv(text, report)
    if report.problems:
        return report
    if not invites:
        raise InvalidInput("The file has no judges in it.", field="file")
    tokens = {invite.email: secrets.token_urlsafe(32) for invite in invites}
    async with write_transaction():
        for invite in invites:
            await _store(official_id, invite, tokens[invite.email])
        await audit.record(
            "challenge.judge.imported", actor_id=official_id, subject="judge-invitations", rows=len(invites)
        )
    for invite in invites:
        await _tell(invite, tokens[invite.email])
    report.invited = len(invites)
    return report


def _parse_csv(text: str, report: ImportReport) -> list[JudgeInvite]:
    reader = csv.reader(io.StringIO((text or "").lstrip("\ufeff")))
    try:
        records = list(reader)
    except csv.Error:
        raise InvalidInput("This is not a CSV file.", field="file") from None
    header = [c.strip().lower() for c in (records[0] if records else [])]
    if header[: len(CSV_COLUMNS)] != list(CSV_COLUMNS) or len(header) > len(CSV_COLUMNS):
        raise InvalidInput(
            "The first line must be the header name,email,expertise,organizations.", field="file"
        )
    if len(records) - 1 > MAX_ROWS:
        raise InvalidInput("Import at most %(limit)s judges at a time.", field="file", limit=MAX_ROWS)
    invites: list[JudgeInvite] = []
    seen: dict[str, int] = {}
    for line, record in enumerate(records[1:], start=2):
        if not any(cell.strip() for cell in record):
            continue
        if len(record) != len(CSV_COLUMNS):
            report.problems.append(
                RowProblem(line, "", i18n.gettext("Expected %(n)s columns.", n=len(CSV_COLUMNS)))
            )
            continue
        cells = dict(zip(CSV_COLUMNS, record, strict=True))
        try:
            invite = check_invite(cells["name"], cells["email"], _split(cells["expertise"]), _split(cells["organizations"]))
        except DomainError as exc:
            report.problems.append(RowProblem(line, exc.field or "", i18n.gettext(exc.message, **exc.params)))
            continue
        if invite.email in seen:
            report.problems.append(
                RowProblem(line, "email", i18n.gettext("Same email as line %(line)s.", line=seen[invite.email]))
            )
            continue
        seen[invite.email] = line
        invites.append(invite)
    return invites


async def invitations() -> list[InvitationView]:
    """Every invitation, newest first."""
    rows = await JudgeInvitation.select().output(load_json=True).order_by(JudgeInvitation.id, ascending=False)
    limit = dt.timedelta(days=INVITATION_DAYS)
    return [
        InvitationView(
            r["id"], r["email"], r["name"], r["expertise"], r["created_at"], r["accepted_at"],
            r["accepted_at"] is None and clock.now() - r["created_at"] > limit,
        )
        for r in rows
    ]


async def pending_for(email: str) -> list[InvitationView]:
    """Pending, unexpired invitations to this address (for the signed-in person's notice page)."""
    return [
        i for i in await invitations() if i.email == email and i.accepted_at is None and not i.expired
    ]


async def invitation_by_token(token: str) -> InvitationView:
    row = await JudgeInvitation.select().output(load_json=True).where(
        JudgeInvitation.token_hash == _token_hash(token or "")
    ).first()
    expired = row is not None and clock.now() - row["created_at"] > dt.timedelta(days=INVITATION_DAYS)
    if row is None or row["accepted_at"] is not None or expired:
        raise NotFoundError("This invitation link has expired or was already used. Ask the officials for a new one.")
    return InvitationView(
        row["id"], row["email"], row["name"], row["expertise"], row["created_at"], None, False
    )


async def accept_judge_invitation(user_id: int, user_email: str, token: str) -> None:
    """The signed-in invitee accepts: the judge role, the expertise and the declared ties on their profile."""
    invitation = await invitation_by_token(token)
    if accounts.normalise_email(user_email) != invitation.email:
        raise InvalidInput(
            "This invitation was sent to %(email)s. Sign in with that address to accept it.",
            field="form",
            email=invitation.email,
        )
    async with write_transaction():
        row = await JudgeInvitation.select().output(load_json=True).where(
            (JudgeInvitation.id == invitation.id) & JudgeInvitation.accepted_at.is_null()
        ).first()
        if row is None:
            raise NotFoundError("This invitation link has expired or was already used. Ask the officials for a new one.")
        await JudgeInvitation.update(
            {JudgeInvitation.accepted_at: clock.now(), JudgeInvitation.accepted_by: user_id}
        ).where(JudgeInvitation.id == row["id"])
        await _merge_profile(user_id, row["expertise"], row["organizations"])
        await accounts.add_role_in_transaction(
            user_id, "judge", actor_id=user_id, reason=f"judge-invitation:{row['id']}"
        )
        await audit.record("challenge.judge.accepted", actor_id=user_id, subject=f"judge-invitation:{row['id']}")


async def _merge_profile(user_id: int, expertise: list[str], organizations: list[str]) -> None:
    """Add the invitation's expertise and registration numbers (as holdings: conflicts are detected
    from them at read time, also for organizations that register later)."""
    profile = await JudgeProfile.select().output(load_json=True).where(JudgeProfile.user == user_id).first()
    if profile is None:
        await JudgeProfile.insert(
            JudgeProfile(
                user=user_id,
                affiliations=[],
                expertise=list(expertise),
                holdings=list(organizations),
                updated_at=clock.now(),
            )
        )
        return
    await JudgeProfile.update(
        {
            JudgeProfile.expertise: list(dict.fromkeys([*profile["expertise"], *expertise])),
            JudgeProfile.holdings: list(dict.fromkeys([*profile["holdings"], *organizations])),
            JudgeProfile.updated_at: clock.now(),
        }
    ).where(JudgeProfile.id == profile["id"])
