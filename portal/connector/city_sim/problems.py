"""The city's refusals, answered as RFC 9457 problems."""

from __future__ import annotations

import msgspec
from litestar import Response

from portal.connector.schemas import Problem

PROBLEM_MEDIA_TYPE = "application/problem+json"


class CityProblem(Exception):
    """A refusal answered as an RFC 9457 problem."""

    def __init__(
        self,
        status: int,
        slug: str,
        title: str,
        detail: str = "",
        errors: list[str] | None = None,
        headers: dict[str, str] | None = None,
        current_revision: int | None = None,
    ) -> None:
        super().__init__(detail or title)
        self.problem = Problem(
            type=f"urn:hangang:city-budget:problem:{slug}",
            title=title,
            status=status,
            detail=detail,
            errors=errors or [],
            current_revision=current_revision,
        )
        self.headers = headers or {}


def problem_response(problem: Problem, headers: dict[str, str] | None = None) -> Response[bytes]:
    """Render a problem with its media type."""
    return Response(
        content=msgspec.json.encode(problem),
        status_code=problem.status,
        media_type=PROBLEM_MEDIA_TYPE,
        headers=headers or {},
    )
