"""Outgoing email through one interface: the log in development, SMTP when configured."""

from __future__ import annotations

import logging
import smtplib
from dataclasses import dataclass, field
from email.message import EmailMessage

import anyio

from portal.settings import get_settings

log = logging.getLogger("hangang.mail")


@dataclass
class OutgoingMail:
    to: str
    subject: str
    body: str


@dataclass
class MailOutbox:
    """Development sender: keeps mails in memory and writes them to the log."""

    sent: list[OutgoingMail] = field(default_factory=list)

    async def send(self, mail: OutgoingMail) -> None:
        self.sent.append(mail)
        del self.sent[:-200]  # a long-running dev server must not grow without bound
        # Never the body: it can hold a receipt (which finds a ballot's content) or a reset link.
        log.info("mail to=%s subject=%s", mail.to, mail.subject)


class SmtpSender:
    """Production sender over SMTP with STARTTLS."""

    async def send(self, mail: OutgoingMail) -> None:
        settings = get_settings()

        def _send() -> None:
            message = EmailMessage()
            message["From"] = settings.mail_from
            message["To"] = mail.to
            message["Subject"] = mail.subject
            message.set_content(mail.body)
            with smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=10) as smtp:
                smtp.starttls()
                if settings.smtp_user:
                    smtp.login(settings.smtp_user, settings.smtp_password)
                smtp.send_message(message)

        await anyio.to_thread.run_sync(_send)


development_outbox = MailOutbox()


def sender() -> MailOutbox | SmtpSender:
    return SmtpSender() if get_settings().smtp_host else development_outbox


async def send_mail(to: str, subject: str, body: str) -> None:
    """Send a mail; failures are logged, never raised into the user's request."""
    try:
        await sender().send(OutgoingMail(to=to, subject=subject, body=body))
    except OSError:
        log.exception("mail delivery failed to=%s subject=%s", to, subject)
