"""Standard Webhooks signing, idempotency keys and body hashing."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from portal.connector import signing
from portal.connector.signing import SigningError

# The published Standard Webhooks / Svix example: the same secret, id, time and body give this signature.
VECTOR_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
VECTOR_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
VECTOR_TIME = 1614265330
VECTOR_BODY = b'{"test": 2432232314}'
VECTOR_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def _headers(signature: str, msg_id: str = VECTOR_ID, ts: int = VECTOR_TIME) -> dict[str, str]:
    return {"webhook-id": msg_id, "webhook-timestamp": str(ts), "webhook-signature": signature}


def test_matches_the_standard_webhooks_example() -> None:
    key = signing.parse_secret(VECTOR_SECRET)
    assert signing.sign(key, VECTOR_ID, VECTOR_TIME, VECTOR_BODY) == VECTOR_SIGNATURE
    signing.verify([key], _headers(VECTOR_SIGNATURE), VECTOR_BODY, now=VECTOR_TIME)


def test_any_of_several_signatures_may_match_during_rotation() -> None:
    key = signing.parse_secret(VECTOR_SECRET)
    other = signing.parse_secret(signing.new_secret())
    header = signing.signature_header([other, key], VECTOR_ID, VECTOR_TIME, VECTOR_BODY)
    assert len(header.split()) == 2
    signing.verify([key], _headers(header), VECTOR_BODY, now=VECTOR_TIME)
    signing.verify([other], _headers(header), VECTOR_BODY, now=VECTOR_TIME)


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"body": b'{"test": 2432232315}'}, "no webhook-signature matches"),
        ({"msg_id": "msg_other"}, "no webhook-signature matches"),
        ({"now": VECTOR_TIME + 301}, "5 minutes"),
        ({"now": VECTOR_TIME - 301}, "5 minutes"),
        ({"signature": "v2," + VECTOR_SIGNATURE[3:]}, "no webhook-signature matches"),
        ({"signature": ""}, "missing"),
    ],
)
def test_tampering_and_clock_skew_are_refused(change: dict, reason: str) -> None:
    key = signing.parse_secret(VECTOR_SECRET)
    headers = _headers(change.get("signature", VECTOR_SIGNATURE), change.get("msg_id", VECTOR_ID))
    with pytest.raises(SigningError, match=reason):
        signing.verify(
            [key], headers, change.get("body", VECTOR_BODY), now=change.get("now", VECTOR_TIME)
        )


def test_five_minutes_off_is_still_accepted() -> None:
    key = signing.parse_secret(VECTOR_SECRET)
    signing.verify([key], _headers(VECTOR_SIGNATURE), VECTOR_BODY, now=VECTOR_TIME + 300)


def test_a_non_numeric_timestamp_is_refused() -> None:
    key = signing.parse_secret(VECTOR_SECRET)
    headers = _headers(VECTOR_SIGNATURE) | {"webhook-timestamp": "2021-02-25T15:02:10Z"}
    with pytest.raises(SigningError, match="unix seconds"):
        signing.verify([key], headers, VECTOR_BODY, now=VECTOR_TIME)


@pytest.mark.parametrize(
    ("secret", "reason"),
    [
        ("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "whsec_"),
        ("whsec_!!!", "base64"),
        ("whsec_YWJj", "16 bytes"),
    ],
)
def test_bad_secrets_are_named(secret: str, reason: str) -> None:
    with pytest.raises(SigningError, match=reason):
        signing.parse_secret(secret)


def test_several_secrets_parse_in_order() -> None:
    first, second = signing.new_secret(), signing.new_secret()
    keys = signing.parse_secrets(f"{first}  {second}")
    assert keys == [signing.parse_secret(first), signing.parse_secret(second)]


def test_idempotency_key_round_trips_and_rejects_nonsense() -> None:
    assert signing.idempotency_key("seoul-pb-2027", 3) == "seoul-pb-2027:3"
    assert signing.parse_idempotency_key("seoul-pb-2027:3") == ("seoul-pb-2027", 3)
    for bad in ("seoul-pb-2027", "seoul-pb-2027:0", ":3", "a b:1", "x:-1"):
        with pytest.raises(SigningError):
            signing.parse_idempotency_key(bad)


def test_body_hash_ignores_key_order_and_dry_run_flag() -> None:
    first = {
        "batch_id": "b",
        "revision": 1,
        "dry_run": False,
        "items": [{"amount": "5", "title": "공원"}],
    }
    second = {
        "items": [{"title": "공원", "amount": "5"}],
        "dry_run": True,
        "revision": 1,
        "batch_id": "b",
    }
    assert signing.body_sha256(first) == signing.body_sha256(second)
    assert signing.body_sha256(first) != signing.body_sha256(first | {"revision": 2})


def test_body_bytes_refuses_floats() -> None:
    with pytest.raises(SigningError, match="floats"):
        signing.body_bytes({"amount": 1.5})


@given(st.binary(max_size=256), st.text(min_size=1, max_size=40), st.integers(0, 2**35))
def test_what_is_signed_verifies(body: bytes, msg_id: str, ts: int) -> None:
    key = signing.parse_secret(VECTOR_SECRET)
    header = signing.sign(key, msg_id, ts, body)
    signing.verify(
        [key],
        {"webhook-id": msg_id, "webhook-timestamp": str(ts), "webhook-signature": header},
        body,
        now=ts,
    )
