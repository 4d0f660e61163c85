"""Sorting and filtering of the challenge's long lists, with the state kept in the URL's query.

A page declares the sort keys and the filters it offers; ``apply`` reads ``sort``, ``order``, ``q`` and
each filter from the query, ignores values it does not know (a stale or hand-edited URL shows the
plain list, never an error), and returns the rows plus the state the template echoes back into its
GET form and its column links.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from litestar import Request


@dataclass
class ListState:
    """What the list shows: the chosen sort and order, the search text and the filters."""

    sort: str
    order: str
    q: str
    filters: dict[str, str] = field(default_factory=dict)
    total: int = 0

    def query(self, **changes: str) -> str:
        """The query string of this state with some values changed (for column links)."""
        values = {"sort": self.sort, "order": self.order, "q": self.q, **self.filters, **changes}
        return urlencode({k: v for k, v in values.items() if v})

    def sort_link(self, key: str) -> str:
        """Sorting by ``key``, ascending first, descending on a second click."""
        order = "desc" if self.sort == key and self.order == "asc" else "asc"
        return "?" + self.query(sort=key, order=order)


def _get(row: Any, name: str) -> Any:
    return row[name] if isinstance(row, Mapping) else getattr(row, name)


def apply(
    request: Request,
    rows: Sequence[Any],
    *,
    sorts: Mapping[str, Callable[[Any], Any]],
    default_sort: str,
    filters: Mapping[str, str] | None = None,
    search: Sequence[str] = (),
) -> tuple[list[Any], ListState]:
    """Filter, search and sort ``rows`` by the request's query; ``filters`` maps a query name to a field."""
    params = request.query_params
    filters = filters or {}
    sort = params.get("sort") if params.get("sort") in sorts else default_sort
    order = "desc" if params.get("order") == "desc" else "asc"
    q = (params.get("q") or "").strip()[:100]
    chosen = {name: (params.get(name) or "")[:60] for name in filters if params.get(name)}
    shown = list(rows)
    for name, value in chosen.items():
        shown = [r for r in shown if str(_get(r, filters[name]) or "") == value]
    if q:
        needle = q.casefold()
        shown = [r for r in shown if any(needle in str(_get(r, f) or "").casefold() for f in search)]
    shown.sort(key=sorts[sort], reverse=order == "desc")
    return shown, ListState(sort, order, q, chosen, len(rows))
