"""``GET /v1/executions``: how the city carries out funded projects, and the operator's ``/_executions``."""

import asyncio
import json
from typing import Annotated, Any

from litestar import Request, Response, delete, get, post
from litestar.openapi import ResponseSpec
from litestar.params import Body, QueryParameter

from portal.connector.city_sim.handlers import _SIGNED, _city, require_signature
from portal.connector.city_sim.problems import PROBLEM_MEDIA_TYPE
from portal.connector.schemas import ExecutionPage, Problem
from portal.connector.schemas import ProjectCode as ProjectCodeType

DEFAULT_LIMIT = 200


@get(
    "/v1/executions",
    guards=[require_signature],
    summary="How the funded projects of a fiscal year are being carried out",
    description=_SIGNED
    + " Signed over an empty body. Rows are ordered by `project_code`; pass the reply's `next_after`"
    " as `after` for the next page until it is null.",
    tags=["reference data"],
    responses={
        400: ResponseSpec(
            Problem, description="A bad query parameter", media_type=PROBLEM_MEDIA_TYPE
        ),
        401: ResponseSpec(
            Problem, description="Bad signature, key id or clock", media_type=PROBLEM_MEDIA_TYPE
        ),
    },
)
async def list_executions(
    request: Request[Any, Any, Any],
    fiscal_year: Annotated[int, QueryParameter(ge=2000, le=2100)],
    after: Annotated[ProjectCodeType | None, QueryParameter(required=False)] = None,
    limit: Annotated[int, QueryParameter(ge=1, le=1000)] = DEFAULT_LIMIT,
) -> ExecutionPage:
    """One page of execution rows, keyed by the ``project_code`` of the allocation push."""
    city = _city(request)
    if delay := city.faults.take_delay():
        await asyncio.sleep(delay)
    rows = [pair for pair in city.executions.rows(fiscal_year) if after is None or pair[0] > after]
    page, rest = rows[:limit], rows[limit:]
    body = {
        "fiscal_year": fiscal_year,
        "items": [item for _, item in page],
        "next_after": page[-1][0] if rest else None,
    }
    # Rows are sent as the city holds them (an operator may have planted malformed ones on purpose).
    return Response(  # type: ignore[return-value]
        content=json.dumps(body, ensure_ascii=False).encode(), media_type="application/json"
    )


@post("/_executions", include_in_schema=False, status_code=200)
async def set_executions(
    request: Request[Any, Any, Any], data: Annotated[dict[str, Any], Body()]
) -> dict[str, Any]:
    """Replace the rows of one fiscal year: ``{"fiscal_year": 2026, "items": [...]}`` (rehearsals, tests)."""
    year, items = data.get("fiscal_year"), data.get("items")
    if not isinstance(year, int) or not isinstance(items, list):
        return Response(  # type: ignore[return-value]
            content={"title": "fiscal_year (integer) and items (list) are required"},
            status_code=400,
        )
    _city(request).executions.set_rows(year, items)
    return {"fiscal_year": year, "items": len(items)}


@delete("/_executions", include_in_schema=False, status_code=200)
async def clear_executions(request: Request[Any, Any, Any]) -> dict[str, Any]:
    """Forget every planted row (accepted batches still report their projects as planned)."""
    _city(request).executions.clear()
    return {"cleared": True}


def load_executions(path: Any) -> dict[int, list[Any]]:
    """Read ``{"2026": [{project_code, status, ...}, ...]}`` for ``--executions FILE``."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ValueError(f"cannot read the executions file {path}: {exc.strerror}") from exc
    except ValueError as exc:
        raise ValueError(f"the executions file {path} is not JSON: {exc}") from exc
    if not isinstance(raw, dict) or not all(
        isinstance(k, str) and k.isdigit() and isinstance(v, list) for k, v in raw.items()
    ):
        raise ValueError(f'the executions file {path} must look like {{"2026": [...]}}')
    return {int(year): rows for year, rows in raw.items()}
