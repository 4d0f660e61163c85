"""Reading and writing the pabulib .pb format."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import pytest
from pabutools.election import parse_pabulib

from voting.compute.pabulib import (
    PabulibError,
    format_number,
    format_pb,
    parse_number,
    parse_pb,
    read_pb,
    write_pb,
)

DATA = Path(__file__).resolve().parents[1] / "data" / "pabulib"
FILES = sorted(p.name for p in DATA.glob("*.pb"))

SMALL = '''META
key;value
description;Small test
num_projects;3
num_votes;3
budget;1000.50
vote_type;approval
rule;greedy
min_length;1
max_sum_cost;900
min_project_score_threshold;2
PROJECTS
project_id;cost;name
1;500;"Park; with a ""quote"""
2;250,25;Library
10;100;Bench
VOTES
voter_id;vote
v1;1,2
v2;10
v3;
'''


def test_all_reference_files_parse_with_their_declared_counts():
    assert len(FILES) == 9
    for name in FILES:
        pb = read_pb(DATA / name)
        assert len(pb.projects) == int(pb.meta["num_projects"]), name
        assert len(pb.ballots) == int(pb.meta["num_votes"]), name
        assert pb.budget > 0


@pytest.mark.parametrize("name", FILES)
def test_round_trip_keeps_every_field(name):
    pb = read_pb(DATA / name)
    again = parse_pb(format_pb(pb))
    assert again == pb
    assert again.ballots == pb.ballots
    assert again.costs == pb.costs
    crlf = parse_pb(format_pb(pb, newline="\r\n"))
    assert crlf == pb


@pytest.mark.parametrize(
    "name",
    ["Netherlands_Assen_2024.pb", "France_Toulouse_2019.pb", "Poland_Krakow_2022_Nowa_Huta.pb"],
)
def test_agrees_with_the_pabutools_parser(name):
    instance, profile = parse_pabulib(str(DATA / name))
    pb = read_pb(DATA / name)
    assert pb.budget == instance.budget_limit
    assert pb.costs == {p.name: p.cost for p in instance}
    ours = pb.ballots
    if pb.ballot_type == "approval":
        theirs = [frozenset(p.name for p in b) for b in profile]
    elif pb.ballot_type == "cumulative":
        theirs = [{p.name: v for p, v in b.items()} for b in profile]
    else:
        theirs = [tuple(p.name for p in b) for b in profile]
    assert ours == theirs


def test_line_endings_bom_quotes_and_decimals():
    lf = parse_pb(SMALL)
    assert parse_pb(SMALL.replace("\n", "\r\n")) == lf
    mixed = "".join(line + ("\r\n" if i % 2 else "\n") for i, line in enumerate(SMALL.splitlines()))
    assert parse_pb(mixed) == lf
    assert parse_pb("\ufeff" + SMALL) == lf
    assert lf.projects[0]["name"] == 'Park; with a "quote"'
    assert lf.budget == Fraction(2001, 2)
    assert lf.costs == {"1": 500, "2": Fraction(1001, 4), "10": 100}
    assert lf.ballots == [frozenset({"1", "2"}), frozenset({"10"}), frozenset()]
    assert lf.threshold == 2
    assert lf.meta_number("min_length") == 1
    assert lf.meta_number("max_sum_cost") == 900
    assert parse_pb(format_pb(lf)) == lf


def test_read_accepts_a_bom_on_disk(tmp_path):
    path = tmp_path / "bom.pb"
    path.write_bytes(b"\xef\xbb\xbf" + SMALL.encode())
    assert read_pb(path) == parse_pb(SMALL)
    write_pb(read_pb(path), tmp_path / "out.pb")
    assert read_pb(tmp_path / "out.pb") == parse_pb(SMALL)


@pytest.mark.parametrize(
    ("vote_type", "votes", "expected"),
    [
        ("cumulative", "v1;1,2;2,1\nv2;10;3\n", [{"1": 2, "2": 1}, {"10": 3}]),
        ("scoring", "v1;1,2;2,1.5\nv2;10;3\n", [{"1": 2, "2": Fraction(3, 2)}, {"10": 3}]),
        ("ordinal", "v1;2,1;3,2\nv2;10;1\n", [("2", "1"), ("10",)]),
        ("choose-1", "v1;2;\nv2;10;\n", [frozenset({"2"}), frozenset({"10"})]),
    ],
)
def test_vote_types(vote_type, votes, expected):
    text = (
        f"META\nkey;value\nbudget;100\nvote_type;{vote_type}\nnum_votes;2\n"
        "PROJECTS\nproject_id;cost\n1;10\n2;20\n10;30\n"
        f"VOTES\nvoter_id;vote;points\n{votes}"
    )
    pb = parse_pb(text)
    assert pb.ballots == expected
    assert parse_pb(format_pb(pb)) == pb


def test_numbers():
    assert parse_number("12") == 12
    assert parse_number("12,5") == Fraction(25, 2)
    assert format_number(Fraction(25, 2)) == "12.5"
    assert format_number(Fraction(1, 8)) == "0.125"
    assert format_number(7) == "7"
    with pytest.raises(ValueError):
        parse_number("1e3")
    with pytest.raises(ValueError):
        format_number(Fraction(1, 3))


MALFORMED = [
    (SMALL.replace("1;500;", "1;500;x;"), 14, "expected 3 fields"),
    (SMALL.replace("v2;10", "v2;11"), 20, "unknown project '11'"),
    (SMALL.replace("2;250,25;", "2;lots;"), 15, "cost is not a number"),
    (SMALL.replace("10;100;Bench", "1;100;Bench"), 16, "appears twice"),
    (SMALL.replace("v3;", "v1;"), 21, "voter_id 'v1' appears twice"),
    (SMALL.replace("vote_type;approval", "vote_type;lottery"), 7, "unknown vote_type"),
    (SMALL.replace("num_votes;3", "num_votes;4"), 5, "num_votes is 4"),
    (SMALL.replace("budget;1000.50", "budget;much"), 6, "budget is not a number"),
    (SMALL.replace("PROJECTS\n", "VOTES\n", 1), 12, "section VOTES found where PROJECTS"),
    (SMALL.replace("v1;1,2", "v1;1,1"), 19, "appears twice on the ballot"),
    ("hello;world\n", 1, "must start with a META"),
    (SMALL.split("VOTES")[0], None, "ends before VOTES"),
]


@pytest.mark.parametrize(("text", "line", "problem"), MALFORMED)
def test_malformed_files_name_the_line_and_problem(text, line, problem):
    with pytest.raises(PabulibError) as info:
        parse_pb(text)
    assert problem in str(info.value)
    assert info.value.line == line
    if line:
        assert str(info.value).startswith(f"line {line}: ")


def test_points_must_match_the_projects():
    text = (
        "META\nkey;value\nbudget;100\nvote_type;cumulative\n"
        "PROJECTS\nproject_id;cost\n1;10\n2;20\n"
        "VOTES\nvoter_id;vote;points\nv1;1,2;3\n"
    )
    with pytest.raises(PabulibError, match=r"line 11: voter v1: 2 projects but 1 points"):
        parse_pb(text)


def test_not_utf8_is_an_error_not_a_crash(tmp_path):
    path = tmp_path / "latin1.pb"
    path.write_bytes(SMALL.replace("Library", "Biblioth\xe8que").encode("latin-1"))
    with pytest.raises(PabulibError, match="not UTF-8"):
        read_pb(path)


def test_writer_refuses_line_breaks_inside_fields():
    pb = parse_pb(SMALL)
    pb.projects[0]["name"] = "two\nlines"
    with pytest.raises(PabulibError, match="line break"):
        format_pb(pb)


def test_pabutools_reads_what_we_write(tmp_path):
    pb = read_pb(DATA / "Netherlands_Assen_2024.pb")
    write_pb(pb, tmp_path / "assen.pb", newline="\r\n")
    instance, profile = parse_pabulib(str(tmp_path / "assen.pb"))
    assert instance.budget_limit == pb.budget
    assert {p.name: p.cost for p in instance} == pb.costs
    assert [frozenset(p.name for p in b) for b in profile] == pb.ballots


def test_a_file_built_by_hand_validates_and_exports():
    from voting.compute.pabulib import PbFile

    pb = PbFile(
        meta={"budget": "1000000000", "vote_type": "approval", "currency": "KRW"},
        project_columns=["project_id", "cost", "name"],
        projects=[
            {"project_id": "p1", "cost": "600000000", "name": "Riverside; benches"},
            {"project_id": "p2", "cost": "500000000", "name": "Library"},
        ],
        vote_columns=["voter_id", "vote"],
        votes=[{"voter_id": "a", "vote": "p1,p2"}, {"voter_id": "b", "vote": "p2"}],
    )
    pb.validate()
    projects, budget, ballots, ballot_type = pb.election()
    assert [(p.id, p.cost) for p in projects] == [("p1", 600_000_000), ("p2", 500_000_000)]
    assert (budget, ballot_type) == (1_000_000_000, "approval")
    assert ballots == [frozenset({"p1", "p2"}), frozenset({"p2"})]
    assert parse_pb(format_pb(pb)) == pb
    pb.votes.append({"voter_id": "c", "vote": "p3"})
    with pytest.raises(PabulibError, match="unknown project 'p3'"):
        pb.validate()
