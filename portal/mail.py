"""Outgoing email through one interface: SMTP when configured, a development outbox folder otherwise.

Mail bodies carry reset links and ballot receipts, so no sender ever writes a body to the log (A7):
the log gets the recipient and the subject only. In development the whole message is kept as an
``.eml`` file under ``var/outbox/`` for the developer to open; production refuses to start without
SMTP settings (``Settings.check_safe_for_production``).
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import smtplib
from dataclasses import dataclass, field
from email import policy
from email.header import Header
from email.message import Message
from email.mime.text import MIMEText
from email.parser import BytesParser
from email.policy import Compat32
from email.utils import formataddr, parseaddr
from pathlib import Path
from typing import Any

import anyio

from portal import clock
from portal.settings import get_settings

log = logging.getLogger("hangang.mail")
OUTBOX_FOLDER = "outbox"
OUTBOX_KEEP = 200  # a long-running dev server must not fill the disk
OUTBOX_PRUNE_EVERY = 50  # the folder holds at most OUTBOX_KEEP + OUTBOX_PRUNE_EVERY mails per process


class MailNotSent(OSError):
    """The mail certainly did not leave (no connection, TLS or login failed): safe to try again later."""


@dataclass
class OutgoingMail:
    to: str
    subject: str
    body: str
    message_id: str | None = None  # stable per outbox row, so a receiving system can tell a copy


def _address(value: str) -> str:
    """An address header's value, its display name RFC 2047-encoded when it is not ASCII."""
    if value.isascii():
        return value  # nothing to encode (parsing it cost 0.1 ms a mail)
    name, address = parseaddr(value)
    return formataddr((name, address), charset="utf-8") if address else value


def _text_header(value: str) -> str | Header:
    return value if value.isascii() else Header(value, "utf-8")


def _message(mail: OutgoingMail) -> Message:
    """The mail as a MIME message: UTF-8 text, base64, Korean subjects RFC 2047-encoded.

    Built with the email package's compat32 classes: ``EmailMessage`` parses every header through its
    header registry and tries quoted-printable on the body first, 1.3-1.8 ms a mail against 0.45 ms here,
    and a voting day sends a receipt per ballot (docs/pb.md, "Fourth round").
    """
    message = MIMEText(mail.body, "plain", "utf-8")
    message["From"] = _address(get_settings().mail_from)
    message["To"] = _address(mail.to)
    message["Subject"] = _text_header(mail.subject)
    if mail.message_id:
        message["Message-ID"] = mail.message_id
    return message


class _Wire(Compat32):
    """compat32 with CRLF line ends, writing a short ASCII header as it is: the stock policy folds every
    header through ``email.header.Header``, half of a mail's CPU for the same bytes (tested)."""

    def _fold(self, name: str, value: Any, sanitize: bool) -> str:
        if (
            isinstance(value, str) and value.isascii() and "\r" not in value and "\n" not in value
            and len(name) + len(value) + 2 <= (self.max_line_length or 78)
        ):
            return f"{name}: {value}{self.linesep}"
        return super()._fold(name, value, sanitize)


_WIRE = _Wire(linesep="\r\n")
BUILD_SLICE = 10  # mails built between two turns of the event loop


def wire_bytes(mail: OutgoingMail) -> bytes:
    """The message as it goes over SMTP (CRLF line ends); also what the development outbox keeps."""
    return _message(mail).as_bytes(policy=_WIRE)


async def _build_all(mails: list[OutgoingMail]) -> list[bytes]:
    """Every mail's bytes, built on the event loop a slice at a time.

    Not in the sending thread: building is pure Python, and a thread holding the GIL through a round of
    100 mails made the event loop fight it for every request (on a voting day the receipt mails cost the
    workers more than the casts did; docs/pb.md, "Fourth round"). The thread only does the I/O.
    """
    built = []
    for n, mail in enumerate(mails, start=1):
        built.append(wire_bytes(mail))
        if n % BUILD_SLICE == 0:
            await asyncio.sleep(0)
    return built


@dataclass
class MailOutbox:
    """Development sender: writes each mail to ``var/outbox/*.eml`` (readable by the developer only).

    ``sent`` keeps the last mails of this process in memory too, for tests that run in it.
    """

    sent: list[OutgoingMail] = field(default_factory=list)
    _written: int = 0

    @property
    def folder(self) -> Path:
        return get_settings().var_dir / OUTBOX_FOLDER

    async def send_many(self, mails: list[OutgoingMail]) -> list[Exception | None]:
        """Write the mails in one trip to a worker thread; per mail, None or the error."""
        self.sent.extend(mails)
        del self.sent[:-OUTBOX_KEEP]
        built = await _build_all(mails)
        written = await anyio.to_thread.run_sync(self._write_all, built)
        results: list[Exception | None] = []
        for mail, outcome in zip(mails, written, strict=True):
            if isinstance(outcome, Exception):
                results.append(outcome)
                continue
            log.info("mail to=%s subject=%s kept in %s", mail.to, mail.subject, outcome)
            results.append(None)
        return results

    def _write_all(self, built: list[bytes]) -> list[str | Exception]:
        """Each file's name, or the error that kept it from being written."""
        results: list[str | Exception] = []
        for data in built:
            try:
                results.append(self._write(data).name)
            except OSError as exc:
                results.append(exc)
        return results

    def _write(self, data: bytes) -> Path:
        folder = self.folder
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        name = f"{clock.now():%Y%m%dT%H%M%S%f}-{secrets.token_hex(4)}.eml"
        path = folder / name
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        self._written += 1
        if self._written % OUTBOX_PRUNE_EVERY == 0:  # listing the folder on every mail cost ~2 ms a ballot
            for old in sorted(folder.glob("*.eml"))[:-OUTBOX_KEEP]:
                old.unlink(missing_ok=True)
        return path

    def read(self) -> list[OutgoingMail]:
        """The mails in the outbox folder, oldest first (what a developer would open)."""
        mails = []
        for path in sorted(self.folder.glob("*.eml")):
            message = BytesParser(policy=policy.default).parsebytes(path.read_bytes())
            body = message.get_body(preferencelist=("plain",))
            mails.append(OutgoingMail(str(message["To"]), str(message["Subject"]), body.get_content() if body else ""))
        return mails

    def clear(self) -> None:
        self.sent.clear()
        for path in self.folder.glob("*.eml"):
            path.unlink(missing_ok=True)


class SmtpSender:
    """Production sender over SMTP with STARTTLS: one session for a round's mails, opened again after a
    failure (a voting day sends a receipt per ballot; a TLS handshake each would cost more than the mail)."""

    async def send_many(self, mails: list[OutgoingMail]) -> list[Exception | None]:
        """Per mail, None (sent), ``MailNotSent`` (certainly not sent) or another error (the server may
        have taken it)."""
        sender = parseaddr(get_settings().mail_from)[1]
        built = await _build_all(mails)
        results = await anyio.to_thread.run_sync(self._send_all, sender, [m.to for m in mails], built)
        for mail, error in zip(mails, results, strict=True):
            if error is None:
                log.info("mail to=%s subject=%s sent over SMTP", mail.to, mail.subject)
        return results

    @staticmethod
    def _open() -> smtplib.SMTP:
        settings = get_settings()
        try:
            smtp = smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=10)
        except (OSError, smtplib.SMTPException) as exc:
            raise MailNotSent(f"no SMTP connection: {type(exc).__name__}") from exc
        try:
            smtp.starttls()
            if settings.smtp_user:
                smtp.login(settings.smtp_user, settings.smtp_password)
        except (OSError, smtplib.SMTPException) as exc:
            smtp.close()
            raise MailNotSent(f"SMTP refused the session: {type(exc).__name__}") from exc
        return smtp

    def _send_all(self, sender: str, recipients: list[str], built: list[bytes]) -> list[Exception | None]:
        results: list[Exception | None] = []
        smtp: smtplib.SMTP | None = None
        try:
            for recipient, data in zip(recipients, built, strict=True):
                if smtp is None:
                    try:
                        smtp = self._open()
                    except MailNotSent as exc:  # nothing more leaves in this round
                        results += [exc] * (len(built) - len(results))
                        break
                try:
                    # From here a failure is ambiguous: the server may have taken the mail.
                    smtp.sendmail(sender, [recipient], data)
                except Exception as exc:
                    results.append(exc)
                    smtp.close()
                    smtp = None
                    continue
                results.append(None)
        finally:
            if smtp is not None:
                try:
                    smtp.quit()
                except (OSError, smtplib.SMTPException):
                    smtp.close()
        return results


development_outbox = MailOutbox()


def sender() -> MailOutbox | SmtpSender:
    settings = get_settings()
    if settings.smtp_host:
        return SmtpSender()
    if settings.is_production:
        # Startup refuses this already; never fall back to a folder on a production host.
        raise RuntimeError("HANGANG_SMTP_HOST is not set; production sends mail only over SMTP")
    return development_outbox


async def deliver(mail: OutgoingMail) -> None:
    """Send one mail and raise when it fails (``MailNotSent`` when it certainly did not leave)."""
    error = (await deliver_many([mail]))[0]
    if error is not None:
        raise error


async def deliver_many(mails: list[OutgoingMail]) -> list[Exception | None]:
    """Send mails in one go; per mail, None or the error ``deliver`` would raise."""
    return await sender().send_many(mails) if mails else []


async def send_mail(to: str, subject: str, body: str) -> None:
    """Send a mail; failures are logged (recipient and subject only), never raised into the user's request."""
    try:
        await deliver(OutgoingMail(to=to, subject=subject, body=body))
    except (OSError, smtplib.SMTPException) as exc:
        log.error("mail delivery failed to=%s subject=%s: %s", to, subject, type(exc).__name__)
