"""Demo data: accounts for every role, then each domain's own demo (PB cycles, an AI 50 edition)."""

from __future__ import annotations

import pyotp

from portal import accounts, manifest
from portal.tables import User

DEMO_PASSWORD = "river lanterns over hangang bridge"  # long passphrase, shown once
DEMO_ACCOUNTS = [
    # key, email, roles, district, verified
    ("citizen", "citizen@demo.hangang.kr", ["citizen"], "11680", True),
    ("citizen2", "minji@demo.hangang.kr", ["citizen"], "11440", True),
    ("newcomer", "newcomer@demo.hangang.kr", ["citizen"], "11110", False),
    ("startup", "startup@demo.hangang.kr", ["startup", "citizen"], "11650", False),
    ("official", "official@demo.hangang.kr", ["official"], None, False),
    ("official2", "official2@demo.hangang.kr", ["official"], None, False),
    ("judge", "judge@demo.hangang.kr", ["judge"], None, False),
    ("admin", "admin@demo.hangang.kr", ["admin", "official"], None, False),
    ("pollworker", "pollworker@demo.hangang.kr", ["poll_worker"], None, False),
    ("committee", "committee@demo.hangang.kr", ["citizen", "committee"], "11680", True),
]
# Korean names, as Seoul residents and staff would have (the demo reads Korean).
DISPLAY_NAMES = {
    "citizen": "김서준",
    "citizen2": "이민지",
    "newcomer": "박새봄",
    "startup": "최한결",
    "official": "정하늘",
    "official2": "한도윤",
    "judge": "오현우",
    "admin": "윤지호",
    "pollworker": "강지원",
    "committee": "서예린",
}
# Verified by phone (as through ``hangang idp-sim`` with these details): name, birth date, mobile phone.
# 이민지 is 15, in a district that votes from 14 (every demo cycle's minimum age is the default 14).
PHONE_VERIFIED = {
    "citizen": ("김서준", "1988-03-14", "+821023456789"),  # types 010-2345-6789 at idp-sim
    "citizen2": ("이민지", "2011-09-20", "+821034567890"),
}


async def load_demo(force: bool) -> str:
    """Fill an empty database with demo data; returns the text to print (passwords and TOTP secrets)."""
    if await User.count() > 0:
        if not force:
            return "The database already has accounts; demo data was not loaded."
        return "Demo data is already loaded (the database has accounts)."
    users: dict[str, int] = {}
    lines = ["Demo accounts (shown once; all share one password):", f"  password: {DEMO_PASSWORD}"]
    for key, email, roles, district, verified in DEMO_ACCOUNTS:
        secret = pyotp.random_base32() if set(roles) & {"judge", "official", "admin", "poll_worker"} else None
        users[key] = await accounts.create_user(
            email, DEMO_PASSWORD, roles, display_name=DISPLAY_NAMES[key], district_code=district,
            verified=verified, totp_secret=secret, check_password=False,
        )
        extra = f"  TOTP secret {secret}" if secret else ""
        lines.append(f"  {email:32} {','.join(roles):18}{extra}")
    await verify_demo_phones(users)
    lines.extend(await load_domain_demos(users))
    lines.append("TOTP codes for the accounts above: python -c \"import pyotp; print(pyotp.TOTP('SECRET').now())\"")
    return "\n".join(lines)


async def verify_demo_phones(users: dict[str, int]) -> None:
    """Store the demo citizens' phone verification, with the person keys idp-sim would give them."""
    import datetime as dt

    from portal.idp.provider import Person
    from portal.phone_identity import VerifiedIdentity, store_identity

    for key, (name, birthdate, phone) in PHONE_VERIFIED.items():
        person_key = Person(name, birthdate, phone).person_key
        await store_identity(users[key], VerifiedIdentity(name, dt.date.fromisoformat(birthdate), phone, person_key))


async def load_domain_demos(users: dict[str, int]) -> list[str]:
    """Each domain's demo data for the accounts in ``users`` (keys as in DEMO_ACCOUNTS); the crawler test reuses it."""
    lines: list[str] = []
    for load_domain_demo in manifest.demo_loaders():
        lines.extend(await load_domain_demo(users))
    return lines
