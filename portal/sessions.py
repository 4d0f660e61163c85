"""Server-side sessions in the database, with rotation and no fixation (S7, S9).

Litestar keeps whatever session id a browser sends and has no rotation API,
so the backend here (1) only reuses an id that it found in the store,
(2) issues a fresh id when the session asks for rotation (login, TOTP step,
privilege change) and deletes the old one, and (3) never writes empty
sessions, so anonymous traffic costs no database writes.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import msgspec
from litestar.connection import ASGIConnection
from litestar.datastructures import Cookie, MutableScopeHeaders
from litestar.middleware.session.server_side import (
    ServerSideSessionBackend,
    ServerSideSessionConfig,
)
from litestar.stores.base import Store
from litestar.types import Empty, Message, ScopeSession
from litestar.utils.dataclass import extract_dataclass_items

from portal import clock
from portal.db import raw, write_transaction
from portal.tables import SessionRecord

ROTATE_FLAG = "_rotate"
# A form filled while the session expired (portal/web/keep_typed.py), kept for its author's next login.
DRAFT_KEY = "draft"
DRAFT_MAX_AGE = 2 * 3600  # seconds: a draft older than this is dropped at login
# Route option: the request reads the session but never writes it (no "seen", no flash, no expiry).
SESSION_UNTOUCHED = "session_untouched"
_LOADED_ID = "_hangang_session_id"
_LOADED_DATA = "_hangang_session_raw"
# The signed-in account as every request needs it, read with the session (portal.auth checks it).
LOADED_ACCOUNT = "_hangang_session_account"
ACCOUNT_COLUMNS = (
    "id", "email", "display_name", "roles", "language", "district_code", "residency_verified", "totp_enabled",
    "birth_date", "session_generation",
)
_ACCOUNT_SELECT = ", ".join(f"u.{c} AS u_{c}" for c in ACCOUNT_COLUMNS)
_SESSION_WITH_ACCOUNT = f"SELECT s.data, s.expires_at, s.uid, {_ACCOUNT_SELECT} FROM portal_session s LEFT JOIN portal_user u ON u.id = s.uid WHERE s.key = {{}}"  # noqa: S608


def _uid_of(value: bytes) -> int | None:
    """The account id inside serialized session data (None for an anonymous or unreadable session)."""
    try:
        uid = msgspec.json.decode(value).get("uid")
    except (msgspec.DecodeError, AttributeError):
        return None
    return uid if isinstance(uid, int) else None


class DatabaseStore(Store):
    """A Litestar store backed by the ``portal_session`` table, shared by all workers."""

    async def set(self, key: str, value: str | bytes, expires_in: int | dt.timedelta | None = None) -> None:
        if isinstance(value, str):
            value = value.encode()
        seconds = expires_in.total_seconds() if isinstance(expires_in, dt.timedelta) else (expires_in or 86400)
        expires_at = clock.now() + dt.timedelta(seconds=seconds)
        # Through write_transaction so session writes queue with every other writer (SQLite).
        uid = _uid_of(value)
        async with write_transaction():
            updated = await SessionRecord.update(
                {SessionRecord.data: value, SessionRecord.expires_at: expires_at, SessionRecord.uid: uid}
            ).where(SessionRecord.key == key).returning(SessionRecord.id)
            if not updated:
                await SessionRecord.insert(SessionRecord(key=key, data=value, expires_at=expires_at, uid=uid))

    async def get(self, key: str, renew_for: int | dt.timedelta | None = None) -> bytes | None:
        # A plain statement: this runs on every signed-in request (Piccolo's select cost twice the CPU).
        rows = await raw("SELECT data, expires_at FROM portal_session WHERE key = {}", key)
        if not rows or rows[0]["expires_at"] <= clock.now():
            return None
        return bytes(rows[0]["data"])

    async def get_with_account(self, key: str) -> tuple[bytes, dict[str, Any] | None] | None:
        """The session's data and, in the same statement, its account's row (None: no such account, or a
        session written before ``uid`` existed); None when there is no live session."""
        rows = await raw(_SESSION_WITH_ACCOUNT, key)
        if not rows or rows[0]["expires_at"] <= clock.now():
            return None
        row = rows[0]
        account = {c: row[f"u_{c}"] for c in ACCOUNT_COLUMNS} if row["u_id"] is not None else None
        return bytes(row["data"]), account

    async def delete(self, key: str) -> None:
        async with write_transaction():
            await SessionRecord.delete().where(SessionRecord.key == key)

    async def delete_all(self) -> None:
        await SessionRecord.delete(force=True)

    async def exists(self, key: str) -> bool:
        return await self.get(key) is not None

    async def expires_in(self, key: str) -> int | None:
        row = await SessionRecord.select(SessionRecord.expires_at).where(SessionRecord.key == key).first()
        if row is None:
            return None
        return max(0, int((row["expires_at"] - clock.now()).total_seconds()))


async def purge_expired_sessions() -> int:
    """Delete expired session rows; returns how many went."""
    rows = await SessionRecord.delete().where(SessionRecord.expires_at <= clock.now()).returning(SessionRecord.id)
    return len(rows)


class RotatingSessionBackend(ServerSideSessionBackend):
    """Adopts only ids it issued, rotates on request, and skips empty sessions."""

    async def load_from_connection(self, connection: ASGIConnection) -> dict[str, Any]:
        session_id = connection.cookies.get(self.config.key)
        if session_id:
            store = self.config.get_store_from_app(connection.scope["app"])
            if isinstance(store, DatabaseStore) and not self.config.renew_on_access:
                found = await store.get_with_account(session_id)
                data = found[0] if found else None
                if found and found[1] is not None:
                    connection.scope[LOADED_ACCOUNT] = found[1]  # type: ignore[literal-required]
            else:
                data = await self.get(session_id, store=store)
            if data is not None:
                connection.scope[_LOADED_ID] = session_id  # type: ignore[literal-required]
                connection.scope[_LOADED_DATA] = data  # type: ignore[literal-required]
                return self.deserialize_data(data)
        return {}

    async def store_in_message(self, scope_session: ScopeSession, message: Message, connection: ASGIConnection) -> None:
        scope = connection.scope
        loaded_id: str | None = scope.get(_LOADED_ID)  # type: ignore[assignment]
        handler = scope.get("route_handler")
        if (
            handler is not None and handler.opt.get(SESSION_UNTOUCHED) and loaded_id
            and scope_session is not Empty and scope_session
            and not scope_session.get(ROTATE_FLAG)  # type: ignore[union-attr]
        ):
            return  # e.g. a ballot cast: its time must not land in the session row (docs/pb.md)
        store = self.config.get_store_from_app(scope["app"])
        headers = MutableScopeHeaders.from_message(message)
        cookie_params = dict(extract_dataclass_items(self.config, exclude_none=True, include=Cookie.__dict__.keys()))

        if scope_session is Empty or not scope_session:
            if loaded_id:
                await self.delete(loaded_id, store=store)
            if loaded_id or connection.cookies.get(self.config.key):
                headers.add(
                    "Set-Cookie", Cookie(value="", key=self.config.key, expires=0, **cookie_params).to_header(header="")
                )
            return

        rotate = bool(scope_session.pop(ROTATE_FLAG, False))
        session_id = loaded_id
        if rotate or not session_id:
            if loaded_id:
                await self.delete(loaded_id, store=store)
            session_id = self.generate_session_id()
        data = self.serialize_data(scope_session, scope)
        if session_id == loaded_id and data == scope.get(_LOADED_DATA):
            return  # nothing changed: no write, no new cookie
        await self.set(session_id=session_id, data=data, store=store)
        headers.add("Set-Cookie", Cookie(value=session_id, key=self.config.key, **cookie_params).to_header(header=""))


class RotatingSessionConfig(ServerSideSessionConfig):
    _backend_class = RotatingSessionBackend  # type: ignore[assignment]


def session_config(secure: bool, absolute_hours: int) -> RotatingSessionConfig:
    """Cookie settings per S8: HttpOnly, Lax, and Secure with the ``__Host-`` prefix outside development."""
    return RotatingSessionConfig(
        key="__Host-hangang_session" if secure else "hangang_session",
        secure=secure,
        httponly=True,
        samesite="lax",
        max_age=absolute_hours * 3600,
        store="sessions",
        exclude=["^/static/", "^/healthz$"],
    )


def keep_draft_through_login(old: dict[str, Any], new: dict[str, Any], user_id: int) -> None:
    """At login, carry a draft over to the new session only for the account that wrote it, while fresh."""
    draft = old.get(DRAFT_KEY)
    if not draft or draft.get("owner") != user_id:
        return
    if clock.now().timestamp() - draft.get("saved_at", 0) > DRAFT_MAX_AGE:
        return
    new[DRAFT_KEY] = draft
