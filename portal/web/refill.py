"""Put what a person sent back into the page's forms (pure HTML rewriting, for ``keep_typed.py``).

Passwords and other secrets are never put back.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urlsplit

SECRET_WORDS = ("password", "totp", "secret", "_csrf_token")
TEXT_KINDS = {"text", "email", "number", "url", "tel", "search", "date", "datetime-local", "time", "month", "week", ""}

Values = dict[str, list[str]]


def is_secret(name: str) -> bool:
    return any(word in name.lower() for word in SECRET_WORDS)


def submitted_values(form: Any) -> Values:
    """The text values of a parsed form (files, secrets and NUL bytes left out)."""
    out: Values = {}
    if not form:
        return out
    items = form.multi_items() if hasattr(form, "multi_items") else form.items()
    for name, value in items:
        if is_secret(name):
            continue
        values = value if isinstance(value, list) else [value]
        for item in values:
            if isinstance(item, str):
                out.setdefault(name, []).append(item.replace("\x00", ""))
    return out


@dataclass
class _Control:
    tag: str
    attrs: list[tuple[str, str | None]]
    start: int  # offset of "<"
    end: int  # offset after ">"
    content_end: int | None = None  # textarea: where "</textarea>" starts
    close_end: int | None = None  # textarea/select: offset after the end tag
    options: list[_Control] = field(default_factory=list)

    def attr(self, name: str) -> str | None:
        return next((v for k, v in self.attrs if k == name), None)


class _Scanner(HTMLParser):
    """Finds the controls of the forms posting to one path, with their source offsets."""

    def __init__(self, source: str, action: str) -> None:
        super().__init__(convert_charrefs=True)
        self.action = action
        self.line_starts = [0]
        for i, ch in enumerate(source):
            if ch == "\n":
                self.line_starts.append(i + 1)
        self.forms: list[tuple[int, list[_Control]]] = []  # (offset after <form ...>, controls)
        self._controls: list[_Control] | None = None
        self._open: _Control | None = None

    def _offset(self) -> int:
        line, column = self.getpos()
        return self.line_starts[line - 1] + column

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        start = self._offset()
        end = start + len(self.get_starttag_text() or "")
        if tag == "form":
            action = dict(attrs).get("action") or ""
            if (dict(attrs).get("method") or "").lower() == "post" and urlsplit(action).path == self.action:
                self._controls = []
                self.forms.append((end, self._controls))
            return
        if self._controls is None:
            return
        control = _Control(tag, attrs, start, end)
        if tag in ("input", "textarea", "select") and control.attr("name"):
            self._controls.append(control)
            if tag != "input":
                self._open = control
        elif tag == "option" and self._open is not None and self._open.tag == "select":
            self._open.options.append(control)

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._controls = None
        elif self._open is not None and tag == self._open.tag:
            self._open.content_end = self._offset()
            self._open.close_end = self._offset() + len(f"</{tag}>")
            self._open = None


def _tag(tag: str, attrs: list[tuple[str, str | None]]) -> str:
    parts = [tag] + [k if v is None else f'{k}="{html.escape(v, quote=True)}"' for k, v in attrs]
    return "<" + " ".join(parts) + ">"


def _with(attrs: list[tuple[str, str | None]], name: str, value: str | None, present: bool = True):
    kept = [(k, v) for k, v in attrs if k != name]
    return kept + [(name, value)] if present else kept


Edit = tuple[int, int, str]  # (start, end, replacement) in the page's source


def _control_edits(control: _Control, values: Values) -> list[Edit]:
    """The edits that put the sent value back into one form control (none for secrets and buttons)."""
    name = control.attr("name") or ""
    kind = (control.attr("type") or "").lower()
    if is_secret(name) or kind in ("password", "hidden", "file", "submit", "button"):
        return []
    sent = values.get(name)
    if control.tag == "input" and kind in ("checkbox", "radio"):
        ticked = sent is not None and (control.attr("value") or "on") in sent
        return [(control.start, control.end, _tag("input", _with(control.attrs, "checked", None, ticked)))]
    if sent is None:
        return []
    if control.tag == "input" and kind in TEXT_KINDS:
        return [(control.start, control.end, _tag("input", _with(control.attrs, "value", sent[0])))]
    if control.tag == "textarea" and control.content_end is not None:
        return [(control.end, control.content_end, html.escape(sent[0], quote=False))]
    if control.tag == "select" and sent[0] in [o.attr("value") for o in control.options]:
        return [
            (option.start, option.end, _tag("option", _with(option.attrs, "selected", None, option.attr("value") == sent[0])))
            for option in control.options
        ]
    return []


def _message_edit(form_end: int, controls: list[_Control], message: str, field_name: str | None) -> Edit:
    """The message shown in the form, linked to the field it is about when that field has an id."""
    target_id = next(
        (c.attr("id") for c in controls if field_name and c.attr("name") == field_name and c.attr("id")), None
    )
    text = html.escape(message)
    if target_id:
        text = f'<a href="#{html.escape(target_id)}">{text}</a>'
    return (form_end, form_end, f'<div class="alert" role="alert"><p>{text}</p></div>')


def refill(
    source: str,
    action: str,
    values: Values,
    *,
    message: str | None = None,
    field_name: str | None = None,
) -> str | None:
    """``source`` with every form posting to ``action`` holding ``values`` (and ``message`` shown in it).

    Returns None when the page has no such form.
    """
    scanner = _Scanner(source, action)
    scanner.feed(source)
    scanner.close()
    if not scanner.forms:
        return None
    edits: list[Edit] = []
    for form_end, controls in scanner.forms:
        for control in controls:
            edits.extend(_control_edits(control, values))
        if message:
            edits.append(_message_edit(form_end, controls, message, field_name))
    out = source
    for start, end, replacement in sorted(edits, key=lambda e: e[0], reverse=True):
        out = out[:start] + replacement + out[end:]
    return out
