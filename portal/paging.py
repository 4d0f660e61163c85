"""Pages of a long list: which rows a page holds, whatever page number was asked for (pure)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")

PAGE_SIZE = 20
MAX_PAGE_SIZE = 100


def page_number(raw: object) -> int:
    """A requested page number: anything that is not a whole number from 1 up reads as page 1."""
    text = str(raw or "").strip()
    if not text.isascii() or not text.isdigit() or len(text) > 9:
        return 1
    return max(1, int(text))


@dataclass(frozen=True)
class Paged(Generic[T]):
    """One page of a list: its items, the page number (clamped to the last page) and the whole count."""

    items: list[T]
    number: int
    size: int
    total: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.size))

    @property
    def first_item(self) -> int:
        """The 1-based position of the page's first item (0 for an empty list)."""
        return (self.number - 1) * self.size + 1 if self.total else 0

    @property
    def last_item(self) -> int:
        return min(self.total, self.number * self.size)


def window(requested: int, total: int, size: int = PAGE_SIZE) -> tuple[int, int]:
    """(page number, offset) for ``requested`` in a list of ``total`` items; past the end is the last page."""
    pages = max(1, -(-total // size))
    number = min(max(1, requested), pages)
    return number, (number - 1) * size


def paginate(items: Sequence[T], requested: int, size: int = PAGE_SIZE) -> Paged[T]:
    """A page of a list already in memory."""
    number, offset = window(requested, len(items), size)
    return Paged(list(items[offset : offset + size]), number, size, len(items))
