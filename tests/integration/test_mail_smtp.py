"""The SMTP sender against a real SMTP server on 127.0.0.1 (aiosmtpd, STARTTLS required): a round's
mails go over one session, Korean headers arrive intact, and a server that refuses a mail mid-round
neither loses the mails after it nor sends the refused one twice."""

from __future__ import annotations

import dataclasses
import datetime as dt
import socket
import ssl
from email import policy
from email.parser import BytesParser

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from portal import mail
from portal.settings import get_settings


def _tls_context(folder) -> ssl.SSLContext:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=1)).sign(key, hashes.SHA256())
    )
    (folder / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (folder / "key.pem").write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(folder / "cert.pem", folder / "key.pem")
    return context


class Inbox:
    """What the server received: (session, envelope sender, recipients, message bytes)."""

    def __init__(self, refuse: str | None = None) -> None:
        self.received: list[tuple[int, str, list[str], bytes]] = []
        self.refuse = refuse

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if envelope.rcpt_tos == [self.refuse]:
            return "554 Transaction failed"
        self.received.append((id(session), envelope.mail_from, envelope.rcpt_tos, envelope.original_content))
        return "250 OK"


@pytest.fixture
def smtp_server(tmp_path, monkeypatch):
    def start(refuse: str | None = None) -> Inbox:
        inbox = Inbox(refuse)
        with socket.socket() as sock:  # a free port (aiosmtpd does not report the one port 0 got)
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        controller = Controller(inbox, hostname="127.0.0.1", port=port, tls_context=_tls_context(tmp_path),
                                require_starttls=True)
        controller.start()
        started.append(controller)
        settings = dataclasses.replace(get_settings(), smtp_host="127.0.0.1", smtp_port=controller.port,
                                       mail_from="한강 포털 <no-reply@hangang.example>")
        monkeypatch.setattr(mail, "get_settings", lambda: settings)
        return inbox

    started: list[Controller] = []
    yield start
    for controller in started:
        controller.stop()


def _mails(n: int) -> list[mail.OutgoingMail]:
    return [mail.OutgoingMail(f"voter{i}@example.kr", "투표 영수증 / Ballot receipt", f"영수증 번호 R-{i}\nReceipt R-{i}\n",
                              message_id=f"<r-{i}@portal>") for i in range(n)]


async def test_a_rounds_mails_go_over_one_session_and_read_back_in_korean(smtp_server):
    inbox = smtp_server()
    assert await mail.deliver_many(_mails(5)) == [None] * 5
    assert [r[2] for r in inbox.received] == [[f"voter{i}@example.kr"] for i in range(5)]
    assert len({r[0] for r in inbox.received}) == 1  # one SMTP session for the round
    assert {r[1] for r in inbox.received} == {"no-reply@hangang.example"}
    message = BytesParser(policy=policy.default).parsebytes(inbox.received[3][3])
    assert str(message["Subject"]) == "투표 영수증 / Ballot receipt"
    assert message["From"].addresses[0].display_name == "한강 포털"
    assert message["Message-ID"] == "<r-3@portal>"
    assert message.get_body(preferencelist=("plain",)).get_content() == "영수증 번호 R-3\nReceipt R-3\n"


async def test_a_mail_refused_mid_round_is_reported_and_the_rest_still_go(smtp_server):
    inbox = smtp_server(refuse="voter2@example.kr")
    results = await mail.deliver_many(_mails(5))
    assert results[:2] == [None, None] and results[3:] == [None, None]
    assert results[2] is not None and not isinstance(results[2], mail.MailNotSent)  # never sent again
    assert [r[2][0] for r in inbox.received] == ["voter0@example.kr", "voter1@example.kr", "voter3@example.kr",
                                                  "voter4@example.kr"]
