"""Connector settings, read only from the environment (the base URL never comes from data)."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from portal.connector import signing


@dataclass(frozen=True)
class CitySettings:
    """Where the city adapter lives and how the portal signs for it."""

    base_url: str
    key_id: str
    keys: list[bytes] = field(repr=False)

    @property
    def configured(self) -> bool:
        """True when pushes can be attempted (a URL is set)."""
        return bool(self.base_url)


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_base_url(url: str) -> str:
    """Return the normalised base URL or raise ``ValueError`` naming the problem."""
    parts = urlsplit(url.strip())
    if parts.scheme not in {"https", "http"} or not parts.hostname:
        raise ValueError("HANGANG_CITY_BUDGET_URL must be an absolute http(s) URL")
    if parts.scheme == "http" and not _loopback(parts.hostname):
        # Plain HTTP would expose the batches on the wire; only a local adapter may use it.
        raise ValueError("HANGANG_CITY_BUDGET_URL must use https unless it points at this machine")
    if parts.query or parts.fragment or parts.username or parts.password:
        raise ValueError("HANGANG_CITY_BUDGET_URL must not carry a query, fragment or credentials")
    return url.strip().rstrip("/")


def load_city_settings(
    require_url: bool = True, environ: dict[str, str] | None = None
) -> CitySettings:
    """Read ``HANGANG_CITY_BUDGET_URL``, ``_KEY_ID`` and ``_SECRET``; raise ``ValueError`` if unusable.

    Without ``environ`` the portal's settings object is the source (one place reads the environment).
    """
    if environ is None:
        from portal.settings import get_settings

        portal_settings = get_settings()
        env = {
            "HANGANG_CITY_BUDGET_URL": portal_settings.city_budget_url,
            "HANGANG_CITY_BUDGET_KEY_ID": portal_settings.city_budget_key_id,
            "HANGANG_CITY_BUDGET_SECRET": portal_settings.city_budget_secret,
        }
    else:
        env = environ
    url = env.get("HANGANG_CITY_BUDGET_URL", "").strip()
    if url:
        url = check_base_url(url)
    elif require_url:
        raise ValueError("HANGANG_CITY_BUDGET_URL is not set")
    raw_secret = env.get("HANGANG_CITY_BUDGET_SECRET", "")
    try:
        keys = signing.parse_secrets(raw_secret)
    except signing.SigningError as exc:
        raise ValueError(f"HANGANG_CITY_BUDGET_SECRET: {exc}") from exc
    key_id = env.get("HANGANG_CITY_BUDGET_KEY_ID", "").strip() or "default"
    return CitySettings(base_url=url, key_id=key_id, keys=keys)
