"""Every string shown by a template has a Korean translation, and every catalog parses."""

from __future__ import annotations

import re

from babel.messages.pofile import read_po
from jinja2.ext import babel_extract

from portal import i18n
from portal.settings import LOCALE_DIR, TEMPLATES_DIR


def template_message_ids() -> dict[str, str]:
    found: dict[str, str] = {}
    for path in sorted(TEMPLATES_DIR.rglob("*.html")):
        with path.open("rb") as handle:
            for _line, _func, message, _comments in babel_extract(
                handle, ("_", "gettext", "ngettext"), [], {"extensions": "jinja2.ext.i18n"}
            ):
                text = message if isinstance(message, str) else (message[0] if message else None)
                if text:
                    found.setdefault(text, str(path.relative_to(TEMPLATES_DIR)))
    return found


def test_every_template_string_has_a_korean_translation():
    korean = i18n._catalog("ko")
    missing = {text: where for text, where in template_message_ids().items() if text not in korean}
    assert not missing, f"{len(missing)} strings lack Korean: {list(missing.items())[:10]}"


def test_placeholders_match_between_english_and_korean():
    placeholder = re.compile(r"%\((\w+)\)s")
    for english, korean in i18n._catalog("ko").items():
        assert set(placeholder.findall(english)) == set(placeholder.findall(korean)), english


def test_catalogs_exist_for_korean():
    assert list((LOCALE_DIR / "ko" / "LC_MESSAGES").glob("*.po"))


def test_translate_falls_back_to_english_and_fills_params():
    assert i18n.translate("Unknown role %(role)s.", "en", role="x") == "Unknown role x."
    assert i18n.translate("Unknown role %(role)s.", "ko", role="x") == "알 수 없는 역할입니다: x."
    assert i18n.negotiate(None, None, "en-US,en;q=0.9") == "en"
    assert i18n.negotiate("ko", "en", "en") == "ko"
    assert i18n.negotiate(None, "en", "ko") == "en"


def test_every_msgstr_formats_with_its_msgids_placeholders():
    """Templates %-format every string, so a bare % (e.g. "예산 비율(%)") is a 500 in that language only."""
    placeholder = re.compile(r"%\((\w+)\)([sd])")
    broken = []
    for po_path in sorted((LOCALE_DIR / "ko" / "LC_MESSAGES").glob("*.po")):
        with po_path.open("rb") as handle:
            for message in read_po(handle, locale="ko"):
                ids = message.id if isinstance(message.id, tuple) else (message.id,)
                strings = message.string if isinstance(message.string, tuple) else (message.string,)
                if not ids[0]:
                    continue  # the header
                params = {
                    name: (1 if kind == "d" else "x")
                    for text in ids
                    for name, kind in placeholder.findall(text)
                }
                for text in (*ids, *(s for s in strings if s)):
                    try:
                        text % (params or {"_": ""})
                    except (ValueError, TypeError, KeyError) as exc:
                        broken.append(f"{po_path.name}: {text!r}: {exc}")
    assert not broken, "\n".join(broken)


def test_a_literal_percent_renders_once_in_templates_and_in_code():
    from portal.web.pages import JINJA_ENV

    label = "Least share of the pot a knapsack ballot spends, in percent"
    token = i18n.current_language.set("ko")
    try:
        rendered = JINJA_ENV.from_string("{{ _(label) }}").render(label=label)
    finally:
        i18n.current_language.reset(token)
    assert rendered.endswith("(%)") and "%%" not in rendered
    assert i18n.translate(label, "ko").endswith("(%)")
    assert i18n.translate("Spend at least %(pct)s%% of it.", "en", pct=5) == "Spend at least 5% of it."


def _messages_passed_to(*names: str, positions: tuple[int, ...] | None = None) -> dict[str, str]:
    """String literals given to these calls (notifications, quota reasons), with where they are."""
    import ast

    from portal.settings import TEMPLATES_DIR

    found: dict[str, str] = {}
    root = TEMPLATES_DIR.parent
    for folder in ("portal", "judging", "proposals", "voting"):
        for path in sorted((root / folder).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if not isinstance(node, ast.Call):
                    continue
                name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
                if name not in names:
                    continue
                args = node.args if positions is None else [a for i, a in enumerate(node.args) if i in positions]
                for arg in args:
                    for text in _strings(arg):
                        if not text.startswith("/"):
                            found[text] = f"{path.relative_to(root)}:{node.lineno}"
    return found


def _strings(node) -> list[str]:
    """A literal argument, or both branches of ``"a" if x else "b"``."""
    import ast

    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, ast.IfExp):
        return _strings(node.body) + _strings(node.orelse)
    return []


def test_every_notification_and_quota_reason_has_a_korean_translation():
    korean = i18n._catalog("ko")
    messages = _messages_passed_to("notify", "notify_and_mail", "QuotaInfeasible")
    # Announcements (portal.notifications): the message, and each kind's label and mail subject.
    messages |= _messages_passed_to("announce", positions=(2,)) | _messages_passed_to("Kind", positions=(1, 2))
    assert len(messages) >= 20  # the subjects and texts of every notification, and every quota reason
    missing = {text: where for text, where in messages.items() if text not in korean}
    assert not missing, missing
