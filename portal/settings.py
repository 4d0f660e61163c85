"""Settings read once from the environment (``HANGANG_*``)."""

from __future__ import annotations

import functools
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
TEMPLATES_DIR = REPO_ROOT / "templates"
STATIC_DIR = REPO_ROOT / "static"
LOCALE_DIR = REPO_ROOT / "locale"


class UnsafeSettingsError(RuntimeError):
    """Raised when production is asked to start with settings that would put users at risk."""


@dataclass(frozen=True)
class Settings:
    """Everything the portal reads from its environment."""

    env: str
    database_url: str
    secret_key: str
    base_url: str
    var_dir: Path
    smtp_host: str
    smtp_port: int
    smtp_user: str
    smtp_password: str
    mail_from: str
    city_budget_url: str
    city_budget_key_id: str
    city_budget_secret: str
    # Keys the audit chain (A6); never stored in the database, so a database writer cannot re-chain.
    audit_key: str = ""
    session_idle_minutes: int = 30
    session_absolute_hours: int = 12
    ballot_mix_seconds: float = 60.0  # how often the ballot mixer looks for new ballots (voting/mixer.py)
    kiosk_ballot_minutes: int = 5  # how long a station tablet's one-time ballot stays open
    # Phone identity verification (docs/identity.md): the OpenID provider and the portal's client there.
    idp_url: str = ""
    idp_client_id: str = "hangang-portal"
    idp_client_secret: str = ""
    # Follow and notify (docs/notifications.md): the daily digest's hour in Seoul, the closing reminder's lead.
    digest_hour: int = 8
    closing_reminder_hours: int = 24

    @property
    def is_production(self) -> bool:
        return self.env == "production"

    @property
    def cookies_secure(self) -> bool:
        return self.is_production

    @property
    def debug(self) -> bool:
        return not self.is_production and os.environ.get("HANGANG_DEBUG", "") == "1"

    def check_safe_for_production(self) -> None:
        """Refuse to serve citizens on settings that are only fit for a laptop."""
        if not self.is_production:
            return
        problems = []
        if len(self.secret_key) < 32:
            problems.append("HANGANG_SECRET_KEY must be set to at least 32 random characters")
        if not self.base_url.startswith("https://"):
            problems.append("HANGANG_BASE_URL must be an https:// address (cookies are Secure)")
        if os.environ.get("HANGANG_DEBUG", "") == "1":
            problems.append("HANGANG_DEBUG=1 is not allowed in production")
        if len(self.audit_key) < 32:
            problems.append(
                "HANGANG_AUDIT_KEY must be set to at least 32 random characters, kept outside the database"
            )
        if not self.smtp_host:
            problems.append(
                "HANGANG_SMTP_HOST must be set: production sends mail (password resets, receipts) only over SMTP"
            )
        var_problem = var_dir_problem(self.var_dir)
        if var_problem:
            problems.append(var_problem)
        if problems:
            raise UnsafeSettingsError(
                "Refusing to start in production: " + "; ".join(problems) + "."
            )


def var_dir_problem(var_dir: Path) -> str | None:
    """Create the var folder if needed; say plainly why not when it cannot be created or written."""
    try:
        var_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        return f"HANGANG_VAR_DIR {var_dir} cannot be created ({exc.strerror or exc}); create it or point HANGANG_VAR_DIR elsewhere"
    if not os.access(var_dir, os.W_OK | os.X_OK):
        return f"HANGANG_VAR_DIR {var_dir} is not writable by this user; fix its owner or point HANGANG_VAR_DIR elsewhere"
    return None


def _development_secret(var_dir: Path, name: str, make) -> str:
    """Generate a secret once and keep it under var/, so restarts (and a city-sim started
    from the same folder) see the same value."""
    path = var_dir / name
    if path.exists():
        return path.read_text().strip()
    var_dir.mkdir(parents=True, exist_ok=True)
    secret = make()
    path.write_text(secret)
    path.chmod(0o600)
    return secret


def existing_development_secret(name: str) -> str:
    """A development secret kept under var/ if one was ever made there, else ""; never creates one."""
    if os.environ.get("HANGANG_ENV", "development") != "development":
        return ""
    path = Path(os.environ.get("HANGANG_VAR_DIR", "var")).resolve() / name
    return path.read_text().strip() if path.is_file() else ""


def _new_city_secret() -> str:
    """A Standard Webhooks secret: ``whsec_`` and base64 of 32 random bytes."""
    import base64

    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


@functools.cache
def get_settings() -> Settings:
    """Read the environment once per process."""
    env = os.environ.get("HANGANG_ENV", "development")
    if env not in ("development", "production"):
        raise UnsafeSettingsError("HANGANG_ENV must be 'development' or 'production'.")
    var_dir = Path(os.environ.get("HANGANG_VAR_DIR", "var")).resolve()
    database_url = os.environ.get("HANGANG_DATABASE_URL") or f"sqlite:///{var_dir / 'hangang.sqlite3'}"
    secret_key = os.environ.get("HANGANG_SECRET_KEY", "")
    city_budget_secret = os.environ.get("HANGANG_CITY_BUDGET_SECRET", "")
    audit_key = os.environ.get("HANGANG_AUDIT_KEY", "")
    idp_client_secret = os.environ.get("HANGANG_IDP_CLIENT_SECRET", "")
    if env == "development":
        if not audit_key:
            audit_key = _development_secret(var_dir, "audit_key", lambda: secrets.token_urlsafe(48))
        if not secret_key:
            secret_key = _development_secret(var_dir, "secret_key", lambda: secrets.token_urlsafe(48))
        if not city_budget_secret:
            city_budget_secret = _development_secret(var_dir, "city_budget_secret", _new_city_secret)
        if not idp_client_secret:  # shared with an idp-sim started from the same folder
            idp_client_secret = _development_secret(var_dir, "idp_client_secret", lambda: secrets.token_urlsafe(32))
    return Settings(
        env=env,
        database_url=database_url,
        secret_key=secret_key,
        base_url=os.environ.get("HANGANG_BASE_URL", "http://127.0.0.1:8000").rstrip("/"),
        var_dir=var_dir,
        smtp_host=os.environ.get("HANGANG_SMTP_HOST", ""),
        smtp_port=int(os.environ.get("HANGANG_SMTP_PORT", "587")),
        smtp_user=os.environ.get("HANGANG_SMTP_USER", ""),
        smtp_password=os.environ.get("HANGANG_SMTP_PASSWORD", ""),
        mail_from=os.environ.get("HANGANG_MAIL_FROM", "no-reply@hangang.example"),
        city_budget_url=os.environ.get("HANGANG_CITY_BUDGET_URL", "http://127.0.0.1:8900"),
        city_budget_key_id=os.environ.get("HANGANG_CITY_BUDGET_KEY_ID", "k1"),
        city_budget_secret=city_budget_secret,
        ballot_mix_seconds=float(os.environ.get("HANGANG_BALLOT_MIX_SECONDS", "60")),
        audit_key=audit_key,
        kiosk_ballot_minutes=int(os.environ.get("HANGANG_KIOSK_BALLOT_MINUTES", "5")),
        idp_url=os.environ.get("HANGANG_IDP_URL", "http://127.0.0.1:8950" if env == "development" else "").rstrip("/"),
        idp_client_id=os.environ.get("HANGANG_IDP_CLIENT_ID", "hangang-portal"),
        idp_client_secret=idp_client_secret,
        digest_hour=min(23, max(0, int(os.environ.get("HANGANG_DIGEST_HOUR", "8")))),
        closing_reminder_hours=max(1, int(os.environ.get("HANGANG_CLOSING_REMINDER_HOURS", "24"))),
    )
