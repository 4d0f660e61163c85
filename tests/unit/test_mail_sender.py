"""The SMTP sender says when a mail certainly did not leave (the outbox tries those again, nothing else)."""

from __future__ import annotations

import dataclasses
import socket

import pytest

from portal import mail
from portal.settings import get_settings


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]  # closed again when the block ends: nothing listens there


async def test_an_smtp_server_out_of_reach_means_the_mail_did_not_leave(monkeypatch):
    settings = dataclasses.replace(get_settings(), smtp_host="127.0.0.1", smtp_port=_closed_port())
    monkeypatch.setattr(mail, "get_settings", lambda: settings)
    with pytest.raises(mail.MailNotSent):
        await mail.deliver(mail.OutgoingMail("reader@example.kr", "Subject", "Body"))


def test_a_notification_mail_carries_its_stable_message_id():
    message = mail._message(mail.OutgoingMail("reader@example.kr", "Subject", "Body", message_id="<n-1-1@portal>"))
    assert message["Message-ID"] == "<n-1-1@portal>" and message["To"] == "reader@example.kr"


def test_a_korean_mail_reads_back_as_written(monkeypatch):
    from email import policy
    from email.parser import BytesParser

    settings = dataclasses.replace(get_settings(), mail_from="한강 포털 <no-reply@hangang.example>")
    monkeypatch.setattr(mail, "get_settings", lambda: settings)
    body = "영수증 번호: ABCD-EFGH\n\n투표가 접수되었습니다. Your ballot was received.\n"
    raw = mail._message(mail.OutgoingMail("voter@example.kr", "투표 영수증 / Ballot receipt", body)).as_bytes()
    assert raw.isascii()  # 7-bit on the wire: base64 body, RFC 2047 headers
    read = BytesParser(policy=policy.default).parsebytes(raw)
    assert str(read["Subject"]) == "투표 영수증 / Ballot receipt"
    assert read["From"].addresses[0].display_name == "한강 포털"
    assert read["From"].addresses[0].addr_spec == "no-reply@hangang.example"
    assert read.get_body(preferencelist=("plain",)).get_content() == body


def test_the_wire_form_is_the_stock_compat32_form_with_crlf():
    from email import policy

    for subject in ("Ballot receipt", "투표 영수증 / Ballot receipt", "A subject long enough to be folded " * 4):
        message = mail._message(mail.OutgoingMail("voter@example.kr", subject, "본문\nBody\n", message_id="<r-1@portal>"))
        assert mail.wire_bytes(mail.OutgoingMail("voter@example.kr", subject, "본문\nBody\n", message_id="<r-1@portal>")) == (
            message.as_bytes(policy=policy.compat32.clone(linesep="\r\n"))
        )
