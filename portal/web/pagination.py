"""Page links for long lists: the page number read leniently, every other query parameter kept in the URL."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlencode

from litestar import Request

from portal.paging import Paged, page_number


def requested_page(request: Request, param: str = "page") -> int:
    """The page the URL asks for; garbage (``?page=abc``, ``-3``, ``1e9``) is page 1, never an error."""
    return page_number(request.query_params.get(param))


@dataclass(frozen=True)
class Pager:
    """What the ``pager`` macro needs: the page, and a URL for any page with the filters and sort kept."""

    paged: Paged
    path: str
    query: tuple[tuple[str, str], ...]
    param: str = "page"

    def url(self, number: int) -> str:
        pairs = [*self.query, *([(self.param, str(number))] if number > 1 else [])]
        return f"{self.path}?{urlencode(pairs)}" if pairs else self.path

    def numbers(self) -> list[int | None]:
        """Page numbers to link: first, last and two either side of the current page; None for a gap."""
        last, here = self.paged.pages, self.paged.number
        shown = sorted({1, last, *range(max(1, here - 2), min(last, here + 2) + 1)})
        out: list[int | None] = []
        for previous, number in zip([0, *shown], shown, strict=False):
            if number - previous > 1 and previous:
                out.append(None)
            out.append(number)
        return out


def pager(request: Request, paged: Paged, param: str = "page") -> Pager:
    """Links for ``paged`` on this request's page, keeping every query parameter but the page and ``lang``."""
    query = tuple(
        (k, v)
        for k, v in request.query_params.multi_items()
        if k not in (param, "lang") and v != ""
    )
    return Pager(paged, request.url.path, query, param)


def filter_links(request: Request, param: str, values: list[str]) -> tuple[dict[str, str], str]:
    """A link per value of one filter (e.g. each district on the map), other filters and sort kept.

    The page number is dropped (a new filter starts at page 1). Returns the links and the link that
    clears the filter.
    """
    kept = [
        (k, v)
        for k, v in request.query_params.multi_items()
        if k not in (param, "page", "lang") and v != ""
    ]
    path = request.url.path

    def url(pairs: list[tuple[str, str]]) -> str:
        return f"{path}?{urlencode(pairs)}" if pairs else path

    return {value: url([*kept, (param, value)]) for value in values}, url(kept)
