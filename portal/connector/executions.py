"""Pull executions from the city budget system and hand them to PB (``hangang connector pull-executions``).

The connector fetches ``GET /v1/executions?fiscal_year=`` (``client.fetch_executions``: signed, paged,
retried); PB maps the rows onto its funded projects through the service it provides,
``pb.apply_executions``, so the connector imports no domain. Pulling twice changes nothing the second
time; rows that break the contract or name no funded project are reported, never fatal.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import msgspec

from portal import audit
from portal.connector.client import CityClient
from portal.connector.settings import load_city_settings
from portal.manifest import domain_service


@dataclass
class ExecutionReport:
    """What a pull did, for the command line and the audit log."""

    fiscal_year: int
    rows: int = 0
    changed: list[str] = field(default_factory=list)
    unchanged: int = 0
    problems: list[str] = field(default_factory=list)
    attempts: int = 0

    def summary(self) -> str:
        lines = [
            f"fiscal year {self.fiscal_year}: {self.rows} rows from the city in {self.attempts} requests,"
            f" {len(self.changed)} projects changed, {self.unchanged} unchanged, {len(self.problems)} problems"
        ]
        lines += [f"  changed {code}" for code in self.changed]
        lines += [f"  problem: {problem}" for problem in self.problems]
        return "\n".join(lines)


async def pull_executions(fiscal_year: int, client: CityClient | None = None) -> ExecutionReport:
    """Fetch the fiscal year's executions and apply them to funded projects (audited as the connector)."""
    client = client or CityClient(load_city_settings())
    pulled = await client.fetch_executions(fiscal_year)
    applied = await domain_service("pb.apply_executions")(fiscal_year, pulled.rows)
    report = ExecutionReport(
        fiscal_year=fiscal_year,
        rows=len(pulled.rows) + len(pulled.invalid),
        changed=list(applied.changed),
        unchanged=applied.unchanged,
        problems=[f"invalid row ({reason})" for reason in pulled.invalid]
        + [f"{issue.project_code}: {issue.problem}" for issue in applied.issues],
        attempts=len(pulled.attempts),
    )
    await audit.record(
        "connector.executions.pulled",
        subject=f"fiscal-year:{fiscal_year}",
        source="connector",
        rows=report.rows,
        changed=report.changed,
        problems=len(report.problems),
    )
    return report


def report_json(report: ExecutionReport) -> bytes:
    return msgspec.json.encode(report)
