"""Password policy (S1, S2) and argon2id hashing (S3)."""

from __future__ import annotations

import functools
import re
import unicodedata

import anyio
from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError

from portal.settings import REPO_ROOT

MIN_LENGTH = 15
MIN_LENGTH_WITH_TOTP = 8
MAX_LENGTH = 128

# OWASP's argon2id floor is m=19 MiB, t=2, p=1; we sit a little above it.
HASHER = PasswordHasher(time_cost=2, memory_cost=19 * 1024 + 1024, parallelism=1, type=Type.ID)

# Verified against unknown accounts so a missing user costs the same time (S5).
DUMMY_HASH = HASHER.hash("dummy password for timing equalisation")

CONTEXT_WORDS = ("hangang", "seoul", "portal", "citizen", "budget", "city", "korea")


@functools.cache
def _blocklist() -> frozenset[str]:
    path = REPO_ROOT / "portal" / "data" / "common-passwords.txt"
    words = {line.strip().lower() for line in path.read_text().splitlines()}
    return frozenset(w for w in words if w and not w.startswith("#"))


def normalise(password: str) -> str:
    """NFC so the same passphrase typed on two keyboards hashes the same."""
    return unicodedata.normalize("NFC", password)


def _only_known_words(letters: str, words: frozenset[str]) -> bool:
    """True when ``letters`` splits entirely into blocklisted or context words."""
    reachable = [True] + [False] * len(letters)
    for end in range(1, len(letters) + 1):
        for start in range(max(0, end - 20), end):
            if reachable[start] and letters[start:end] in words:
                reachable[end] = True
                break
    return reachable[-1]


def password_problem(password: str, *, email: str = "", totp_enabled: bool = False) -> str | None:
    """Return why a new password is refused (an English message id), or None when it is fine."""
    password = normalise(password)
    minimum = MIN_LENGTH_WITH_TOTP if totp_enabled else MIN_LENGTH
    if len(password) < minimum:
        return "The password must have at least %(min)s characters."
    if len(password) > MAX_LENGTH:
        return "The password must have at most %(max)s characters."
    lowered = password.lower()
    blocklist = _blocklist()
    if lowered in blocklist:
        return "This password is too common. Choose a longer phrase of your own."
    context = set(CONTEXT_WORDS)
    local_part = email.split("@")[0].lower()
    if len(local_part) >= 3:
        context.add(local_part)
        if local_part in lowered:
            return "The password must not contain your email address."
    letters = re.sub(r"[^a-z]", "", lowered)
    stripped_len = len(re.sub(r"[\W\d_]", "", lowered))
    # A password that is only common words and context words plus digits is guessable.
    if letters and stripped_len == len(letters) and _only_known_words(letters, blocklist | context):
        return "This password is made of common or easily guessed words. Choose a longer phrase of your own."
    if len(set(lowered)) <= 2:
        return "This password repeats the same characters. Choose a longer phrase of your own."
    return None


async def hash_password(password: str) -> str:
    """argon2id hash, computed off the event loop."""
    return await anyio.to_thread.run_sync(HASHER.hash, normalise(password))


async def verify_password(stored_hash: str, password: str) -> bool:
    """Check a password against a stored hash, off the event loop."""

    def _verify() -> bool:
        try:
            return HASHER.verify(stored_hash, normalise(password))
        except (VerificationError, InvalidHashError):
            return False

    return await anyio.to_thread.run_sync(_verify)


def needs_rehash(stored_hash: str) -> bool:
    try:
        return HASHER.check_needs_rehash(stored_hash)
    except InvalidHashError:
        return True
