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


KEYBOARD_ROWS = ("1234567890", "qwertyuiop", "asdfghjkl", "zxcvbnm")
# A password is a sequence when at most this many characters do not follow from the one before.
MAX_PATTERN_BREAKS = 2


def _follows(previous: str, current: str) -> bool:
    """True when ``current`` is what a sequence would type after ``previous``: the same character,
    the next or previous code point (abc, 987), or the neighbour on a keyboard row (qwe, 890, 0 to 1)."""
    if abs(ord(current) - ord(previous)) <= 1:
        return True
    for row in KEYBOARD_ROWS:
        at = row.find(previous)
        if at >= 0 and current in (row[(at + 1) % len(row)], row[at - 1]):
            return True
    return False


def is_sequence_or_repeat(password: str) -> bool:
    """Sequences and repeats (``1234567890123456``, ``abcdefghijklmnop``, ``123123123123123``,
    ``qwertyuiopasdfgh``) are guessed as early as common passwords, whatever their length."""
    text = password.lower()
    breaks = sum(1 for previous, current in zip(text, text[1:], strict=False) if not _follows(previous, current))
    if breaks <= MAX_PATTERN_BREAKS:
        return True
    # A short unit typed again and again (abcabc..., "passwordpassword"), a character or two aside.
    for period in range(1, len(text) // 2 + 1):
        if sum(text[i] != text[i - period] for i in range(period, len(text))) <= MAX_PATTERN_BREAKS:
            return True
    return False


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
    if is_sequence_or_repeat(password):
        return "This password is a sequence or a repeat (like 12345… or abcabc…). Choose a longer phrase of your own."
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
