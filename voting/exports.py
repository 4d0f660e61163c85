"""Exports for officials after close: results (CSV, XLSX, JSON), turnout (CSV), anonymized ballots (.pb).

No export names a voter (V5): ballots carry no user id, and the ``.pb`` voter ids are
sequence numbers over the ballots sorted by their content, not receipts. Text cells that a
spreadsheet could run as a formula are escaped (S19).
"""

from __future__ import annotations

import csv
import io
import json
import re
from typing import Any

import msgspec

from portal import i18n
from portal.districts import district_name
from portal.errors import NotFoundError
from portal.spreadsheet import AMOUNT, Column, escape_cell, xlsx_bytes
from voting.compute.pabulib import PbFile, format_pb
from voting.compute.results import collector_paused
from voting.projects import cycle_projects, pot_projects
from voting.services import results
from voting.services.cycles import get_cycle, get_pot, pot_name

PB_RULE_NAMES = {
    "greedy": "greedy",
    "greedy-threshold": "greedy-threshold",
    "equal-shares": "equalshares/add1",
    "weighted-channels": "weighted-channels",  # the .pb holds the online channel's ballots only
}


def _pb_text(value: str) -> str:
    """One-line text for a .pb field."""
    return re.sub(r"[\r\n;]+", " ", value).strip()


# Results columns: the CSV/JSON names (a contract) and the XLSX headers (the reader's language).
RESULT_COLUMNS = (
    Column("pot", "Pot"),
    Column("district_code", "District code"),
    Column("rule", "Results rule"),
    Column("official_rule", "Official rule"),
    Column("project_id", "Project ID"),
    Column("title", "Title"),
    Column("category", "Category"),
    Column("cost_krw", "Cost (KRW)", AMOUNT),
    Column("votes", "Votes", AMOUNT),
    Column("selected", "Selected"),
    Column("rank", "Rank"),
)


async def _result_rows(cycle_id: int) -> tuple[dict, list[str], list[list[Any]], dict]:
    cycle, pots, runs = await results.results_of(cycle_id)
    titles = {p.id: p for p in await cycle_projects(cycle_id)}
    by_pot = {p["id"]: p for p in pots}
    header = [column.key for column in RESULT_COLUMNS]
    rows = []
    for run in sorted(runs, key=lambda r: (r["pot"], not r["official"])):
        pot = by_pot[run["pot"]]
        for p in run["outcome"]["projects"]:
            project = titles.get(p["id"])
            rows.append(
                [
                    pot_name(pot, "en"),
                    pot["district_code"] or "",
                    run["rule"],
                    "yes" if run["official"] else "no",
                    p["id"],
                    project.title if project else "",
                    project.category if project else "",
                    p["cost"],
                    p["votes"],
                    "yes" if p["selected"] else "no",
                    p["rank"] or "",
                ]
            )
    document = {
        "cycle": {
            "id": cycle["id"],
            "name": cycle["name"],
            "fiscal_year": cycle["fiscal_year"],
            "results_rule": cycle["results_rule"],
        },
        "pots": [
            {
                "pot_id": pot["id"],
                "district_code": pot["district_code"],
                "amount": pot["amount"],
                "runs": [
                    {
                        "rule": r["rule"],
                        "official": r["official"],
                        "parameters": r["parameters"],
                        "ballots_sha256": r["ballots_sha256"],
                        "computed_at": r["computed_at"].isoformat(),
                        "selected": r["outcome"]["selected"],
                        "total_cost": r["outcome"]["total_cost"],
                        "voters": r["outcome"]["voters"],
                        "projects": [
                            {**p, "title": titles[p["id"]].title if p["id"] in titles else ""}
                            for p in r["outcome"]["projects"]
                        ],
                    }
                    for r in runs
                    if r["pot"] == pot["id"]
                ],
            }
            for pot in pots
        ],
    }
    return cycle, header, rows, document


def _csv(header: list[str], rows: list[list[Any]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    for row in rows:
        writer.writerow([escape_cell(v) for v in row])
    return ("\ufeff" + out.getvalue()).encode("utf-8")  # BOM: Excel opens Korean text correctly


def _results_xlsx(rows: list[list[Any]], language: str) -> bytes:
    """The results for people: pot names in the reader's language, yes/no as words, typed numbers."""
    readable = []
    for row in rows:
        row = list(row)
        row[0] = pot_name({"district_code": row[1] or None}, language)
        row[3] = row[3] == "yes"
        row[9] = row[9] == "yes"
        readable.append(row)
    return xlsx_bytes(RESULT_COLUMNS, readable, "results", language)


def _pb_vote(content: dict, cumulative: bool) -> dict[str, str]:
    """A ballot's ``vote`` (and ``points``) fields in a .pb file."""
    if cumulative:
        pairs = sorted(content.get("points", {}).items(), key=lambda kv: int(kv[0]))
        return {"vote": ",".join(k for k, _ in pairs), "points": ",".join(str(v) for _, v in pairs)}
    return {"vote": ",".join(str(p) for p in content.get("project_ids", []))}


async def pot_pb(cycle_id: int, pot_id: int) -> str:
    """The anonymized ballots of one pot in pabulib's .pb format (after the close only)."""
    cycle = await get_cycle(cycle_id)
    results.require_closed(cycle)  # the ballots alone: no need to read (and parse) every result run
    pot = await get_pot(cycle_id, pot_id)
    projects = await pot_projects(pot_id)
    _, counted = await results.pot_input(cycle, pot)
    cumulative = cycle["ballot_kind"] == "cumulative"
    meta = {
        "description": _pb_text(f"{cycle['name']} - {pot_name(pot, 'en')}"),
        "country": "South Korea",
        "unit": "Seoul",
        "subunit": district_name(pot["district_code"], "en")
        if pot["district_code"]
        else "city-wide",
        "instance": str(cycle["fiscal_year"]),
        "num_projects": str(len(projects)),
        "num_votes": str(sum(n for _, n in counted)),
        "budget": str(pot["amount"]),
        "vote_type": "cumulative" if cumulative else "approval",
        "rule": PB_RULE_NAMES[cycle["results_rule"]],
        "currency": "KRW",
        "language": "ko",
    }
    if cycle["ballot_kind"] != "cumulative":
        meta["min_length"] = str(max(cycle["min_projects"], 1))
        if cycle["max_projects"]:
            meta["max_length"] = str(cycle["max_projects"])
    if cycle["ballot_kind"] == "knapsack":
        meta["max_sum_cost"] = str(pot["amount"])
    if cumulative:
        meta["max_sum_points"] = str(cycle["total_points"])
        meta["max_points"] = str(cycle["max_points_per_project"])
    if cycle["results_rule"] == "greedy-threshold" and cycle["vote_threshold"]:
        meta["min_project_score_threshold"] = str(cycle["vote_threshold"])
    project_rows = [
        {
            "project_id": str(p.id),
            "cost": str(p.cost),
            "name": _pb_text(p.title),
            "category": p.category,
        }
        for p in projects
    ]
    vote_columns = ["voter_id", "vote", "points"] if cumulative else ["voter_id", "vote"]
    # Sorted by content; each distinct content turned into its fields once.
    with collector_paused():
        distinct = [(_pb_vote(msgspec.json.decode(text), cumulative), n) for text, n in counted]
    pb = PbFile(
        meta=meta,
        project_columns=["project_id", "cost", "name", "category"],
        projects=project_rows,
        vote_columns=vote_columns,
        votes=[],
    )
    if not all(_PLAIN_FIELD.fullmatch(value) for vote, _ in distinct for value in vote.values()):
        pb.votes = [{"voter_id": str(i), **vote} for i, vote in enumerate(_repeat(distinct), start=1)]
        return format_pb(pb)
    # Numbers and commas only, which the CSV writer never quotes: the lines are written directly
    # (the same text, without a dict and a writer call per ballot at a million ballots).
    lines = [format_pb(pb)]
    number = 0
    for vote, n in distinct:
        tail = "".join(f";{vote.get(column, '')}" for column in vote_columns[1:]) + "\n"
        lines += [f"{i}{tail}" for i in range(number + 1, number + n + 1)]
        number += n
    return "".join(lines)


_PLAIN_FIELD = re.compile(r"[0-9,-]*")


def _repeat(distinct: list[tuple[dict[str, str], int]]) -> list[dict[str, str]]:
    return [vote for vote, n in distinct for _ in range(n)]


async def turnout_csv(cycle_id: int) -> bytes:
    await results.results_of(cycle_id)
    rows = await results.turnout(cycle_id)
    return _csv(
        ["district_code", "district", "population", "district_pot_ballots", "city_wide_voters"],
        [
            [
                r.district_code or "all",
                district_name(r.district_code, "en") or "Seoul",
                r.population,
                r.district_ballots,
                r.city_wide_voters,
            ]
            for r in rows
        ],
    )


async def build_export(cycle_id: int, name: str) -> tuple[str, str, bytes]:
    """(file name, media type, bytes) of one export; 404 before close or for an unknown name."""
    stem = f"pb-cycle-{cycle_id}"
    if name in ("results.csv", "results.xlsx", "results.json"):
        cycle, header, rows, document = await _result_rows(cycle_id)
        if name.endswith(".csv"):
            return f"{stem}-results.csv", "text/csv; charset=utf-8", _csv(header, rows)
        if name.endswith(".xlsx"):
            return (
                f"{stem}-results.xlsx",
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                _results_xlsx(rows, i18n.current_language.get()),
            )
        return (
            f"{stem}-results.json",
            "application/json",
            json.dumps(document, ensure_ascii=False, indent=1).encode(),
        )
    if name == "turnout.csv":
        return f"{stem}-turnout.csv", "text/csv; charset=utf-8", await turnout_csv(cycle_id)
    match = re.fullmatch(r"pot-(\d{1,9})\.pb", name)
    if match:
        pot_id = int(match.group(1))
        return (
            f"{stem}-pot-{pot_id}.pb",
            "text/plain; charset=utf-8",
            (await pot_pb(cycle_id, pot_id)).encode(),
        )
    raise NotFoundError("We could not find that page.")

