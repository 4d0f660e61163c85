"""Mailed links use the address ``hangang serve`` actually listens on, unless HANGANG_BASE_URL is set."""

from __future__ import annotations

import pytest

from portal.commands import served_address, use_served_address
from portal.settings import get_settings


@pytest.fixture
def fresh_settings(monkeypatch):
    monkeypatch.delenv("HANGANG_BASE_URL", raising=False)
    get_settings.cache_clear()
    yield monkeypatch
    monkeypatch.undo()
    get_settings.cache_clear()


def test_mailed_links_follow_the_served_port(fresh_settings):
    use_served_address("127.0.0.1", 8080)
    assert get_settings().base_url == "http://127.0.0.1:8080"


def test_an_explicit_base_url_wins(fresh_settings):
    fresh_settings.setenv("HANGANG_BASE_URL", "https://portal.seoul.example/")
    use_served_address("0.0.0.0", 8080)
    assert get_settings().base_url == "https://portal.seoul.example"


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("0.0.0.0", "http://127.0.0.1:9000"),
        ("::", "http://[::1]:9000"),
        ("::1", "http://[::1]:9000"),
        ("portal.local", "http://portal.local:9000"),
    ],
)
def test_wildcard_hosts_become_a_reachable_address(host, expected):
    assert served_address(host, 9000) == expected
