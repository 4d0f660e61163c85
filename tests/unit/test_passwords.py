"""Password policy (S1, S2): lengths, blocklist, context words."""

from portal.passwords import password_problem


def test_length_limits_depend_on_totp():
    assert password_problem("a" * 3 + "bcdefghijklm") is None  # 15 characters, varied
    assert password_problem("bcdefghijklmno"[:14]) is not None
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
