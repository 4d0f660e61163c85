"""Password policy (S1, S2): lengths, blocklist, context words."""

import pytest

from portal.passwords import is_sequence_or_repeat, password_problem


def test_length_limits_depend_on_totp():
    assert password_problem("river kite 7 pm") is None  # 15 characters, varied
    assert password_problem("river kite 7 p") is not None  # 14
    assert password_problem("xk9#mq2!", totp_enabled=True) is None
    assert password_problem("x" * 129) is not None


def test_blocklist_context_words_and_repeats():
    assert "common" in password_problem("password1234567")
    assert "guessed" in password_problem("seoulhangang2026")
    assert "guessed" in password_problem("Portal-Seoul-City-2026!")
    assert "email" in password_problem("my name is minjun and i like tea", email="minjun@example.kr")
    assert "repeats" in password_problem("ababababababababab")


def test_unicode_passphrases_are_welcome():
    assert password_problem("한강 다리 위로 지는 노을이 아름답다") is None
    assert password_problem("correct horse battery staple moon") is None


@pytest.mark.parametrize(
    "password",
    ["1234567890123456", "abcdefghijklmnop", "123123123123123", "9876543210987654", "qwertyuiopasdfgh",
     "zyxwvutsrqponmlk", "aaabcdefghijklm", "abcabcabcabcabc1", "hangang!hangang!"],
)
def test_sequences_and_repeats_are_refused_like_common_passwords(password):
    assert is_sequence_or_repeat(password)
    problem = password_problem(password)
    assert problem and ("sequence" in problem or "common" in problem or "guessed" in problem or "repeats" in problem)


def test_the_issue_s_three_accepted_passwords_are_now_refused_as_sequences_or_repeats():
    for password in ("1234567890123456", "abcdefghijklmnop", "123123123123123"):
        assert "sequence or a repeat" in password_problem(password)


@pytest.mark.parametrize(
    "password",
    ["a long and quiet river walk at dawn", "river lanterns over hangang bridge", "xk9#mq2!vb7&lp0z",
     "한강 다리 위로 지는 노을이 아름답다", "my 2 cats sleep on 1 warm rug"],
)
def test_varied_phrases_are_not_mistaken_for_sequences(password):
    assert not is_sequence_or_repeat(password)
