"""Comments are plain text: split into text and link pieces for a template to escape and link (pure).

Only ``http://`` and ``https://`` addresses become links; everything else, markup included, stays text
and is escaped by the template, so a ``<script>`` is shown, never run.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

URL = re.compile(r"https?://[^\s<>\"'`]+", re.IGNORECASE)
TRAILING = ".,;:!?'\""


@dataclass(frozen=True)
class Piece:
    kind: str  # "text" | "link"
    text: str


def _trim(url: str) -> str:
    """Drop punctuation that ends a sentence, and a closing bracket the address did not open."""
    while url and (url[-1] in TRAILING or (url[-1] == ")" and url.count("(") < url.count(")"))):
        url = url[:-1]
    return url


def pieces(body: str) -> list[Piece]:
    """The comment as text and link pieces, in order; joined they give back ``body``."""
    out: list[Piece] = []
    position = 0
    for match in URL.finditer(body):
        url = _trim(match.group(0))
        if len(url) <= len(match.group(0).split("://", 1)[0]) + 3:  # "https://" alone
            continue
        if match.start() > position:
            out.append(Piece("text", body[position : match.start()]))
        out.append(Piece("link", url))
        position = match.start() + len(url)
    if position < len(body):
        out.append(Piece("text", body[position:]))
    return out
