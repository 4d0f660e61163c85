"""``hangang challenge rank``: output shapes, quotas, replay, and clear errors (exit 2)."""

from __future__ import annotations

import argparse
import json
import random

import pytest

from judging import cli
from judging.cli import read_score_sheet
from judging.compute.scoresheet import ScoreSheetError, rank_score_sheet

PLANTED = """entry_id,judge_id,score,category,organization
E3,J1,7,welfare,O1
E4,J1,5,climate,O2
E1,J2,8,welfare,O3
E2,J2,6,climate,O4
E3,J2,5,welfare,O1
E4,J2,3,climate,O2
E1,J3,6,welfare,O3
E2,J3,4,climate,O4
"""


def run(argv: list[str]) -> int:
    """Parse with a parser built from judging.cli.register, as portal.cli does, and run."""
    parser = argparse.ArgumentParser(prog="hangang")
    cli.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(argv)
    return args.handler(args)


@pytest.fixture
def sheet(tmp_path):
    def write(text: str, name: str = "scores.csv"):
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        return str(path)

    return write


def test_json_output_has_exactly_the_documented_shape(sheet, capsys):
    assert run(["challenge", "rank", sheet(PLANTED), "--winners", "2", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out) == {"ranking", "winners", "judge_offsets"}
    assert out["ranking"] == [
        {"entry_id": "E1", "score": 8.0, "rank": 1},
        {"entry_id": "E2", "score": 6.0, "rank": 2},
        {"entry_id": "E3", "score": 5.0, "rank": 3},
        {"entry_id": "E4", "score": 3.0, "rank": 4},
    ]
    assert out["winners"] == ["E1", "E2"]
    assert out["judge_offsets"] == {"J1": 2.0, "J2": 0.0, "J3": -2.0}


def test_mean_method_ranks_e3_above_e2(sheet, capsys):
    assert (
        run(["challenge", "rank", sheet(PLANTED), "--winners", "2", "--method", "mean", "--json"])
        == 0
    )
    out = json.loads(capsys.readouterr().out)
    assert [r["entry_id"] for r in out["ranking"]] == ["E1", "E3", "E2", "E4"]
    assert out["winners"] == ["E1", "E3"]


def test_text_output_shows_ranking_winners_offsets_and_borderline(sheet, capsys):
    assert run(["challenge", "rank", sheet(PLANTED), "--winners", "2"]) == 0
    out = capsys.readouterr().out
    for heading in ("Ranking", "Winners (2)", "Judge offsets", "Borderline"):
        assert heading in out
    assert "J1             +2.0000" in out
    assert "score 5.00 below last winner 6.00" in out


def test_quotas_file_applies_categories_and_the_organization_limit(sheet, capsys):
    rows = ["entry_id,judge_id,score,category,organization"]
    for i, (category, org, score) in enumerate(
        [("welfare", "O1", 9), ("welfare", "O1", 8.5), ("welfare", "O2", 8), ("climate", "O3", 4)]
    ):
        rows += [f"E{i},J1,{score},{category},{org}", f"E{i},J2,{score},{category},{org}"]
    quotas = sheet(json.dumps({"winners": 2, "categories": {"climate": {"min": 1}}}), "q.json")
    assert run(["challenge", "rank", sheet("\n".join(rows)), "--quotas", quotas, "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    # Default max_per_organization is 1 and climate needs one winner: E0 (O1) and E3.
    assert out["winners"] == ["E0", "E3"]


def test_rank_score_sheet_replays_the_cli_decision(sheet, capsys):
    rng = random.Random(3)
    lines = ["entry_id,judge_id,score,category,organization"]
    rows = []
    for e in range(40):
        category = rng.choice(["transportation", "welfare", "climate"])
        org = f"O{rng.randint(0, 25)}"
        for j in rng.sample(range(8), 3):
            score = round(rng.uniform(3, 9), 2)
            lines.append(f"E{e},J{j},{score},{category},{org}")
            rows.append(
                {
                    "entry_id": f"E{e}",
                    "judge_id": f"J{j}",
                    "score": score,
                    "category": category,
                    "organization": org,
                }
            )
    quotas = {
        "winners": 10,
        "categories": {"climate": {"min": 2, "max": 4}},
        "max_per_organization": 1,
    }
    quota_path = sheet(json.dumps(quotas), "q.json")
    assert (
        run(
            [
                "challenge",
                "rank",
                sheet("\n".join(lines)),
                "--quotas",
                quota_path,
                "--seed",
                "7",
                "--json",
            ]
        )
        == 0
    )
    printed = json.loads(capsys.readouterr().out)
    rng.shuffle(rows)  # the row order of an export must not matter
    replay = rank_score_sheet(rows, "additive", None, quotas, 7).to_json()
    assert printed == json.loads(json.dumps(replay))
    assert len(printed["winners"]) == 10


def test_challenge_is_a_group_other_modules_can_extend():
    parser = argparse.ArgumentParser(prog="hangang")
    subparsers = parser.add_subparsers(dest="command")
    cli.register(subparsers)
    group = cli.challenge_group(subparsers)
    extra = group.add_parser("export")
    extra.set_defaults(handler=lambda args: 0)
    assert parser.parse_args(["challenge", "export"]).handler(None) == 0
    assert parser.parse_args(["challenge", "rank", "x.csv"]).handler is cli.run_rank
    assert parser.parse_args(["challenge"]).handler(None) == 2


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("entry_id,judge,score\nE1,J1,5\n", "line 1: missing column judge_id"),
        ("entry_id,judge_id,score,district\nE1,J1,5,x\n", "line 1: unknown column 'district'"),
        ("entry_id,judge_id,score\nE1,J1,5\nE2,J1,abc\n", "line 3: score 'abc' is not a number"),
        (
            "entry_id,judge_id,score\nE1,J1,11\n",
            "line 2: score 11 is outside the rubric scale 1-10",
        ),
        ("entry_id,judge_id,score\nE1,J1,5\n,J2,6\n", "line 3: entry_id is empty"),
        (
            "entry_id,judge_id,score\nE1,J1,5\nE1,J1,6\n",
            "line 3: judge J1 already scored entry E1 on line 2",
        ),
        (
            "entry_id,judge_id,score,category\nE1,J1,5,welfare\nE1,J2,6,climate\n",
            "line 3: entry E1 has a different category or organization than on line 2",
        ),
        ("entry_id,judge_id,score\nE1,J1,5,extra\n", "line 2: more cells than header columns"),
        ("entry_id,judge_id,score\n", "the score sheet has no scores"),
        ("", "the file is empty"),
        ("entry_id,judge_id,score\nE1,J1,nan\n", "line 2: score 'nan' is not a number"),
    ],
)
def test_malformed_sheets_exit_2_with_a_message_naming_the_problem(sheet, capsys, text, message):
    assert run(["challenge", "rank", sheet(text), "--winners", "1"]) == 2
    err = capsys.readouterr().err
    assert message in err
    assert "Traceback" not in err


@pytest.mark.parametrize(
    ("quotas", "extra", "message"),
    [
        ('{"winners": 2,\n "categories": {"welfare": {"min": 1,}}}', [], "line 2, column"),
        ('{"winners": 2, "quota": 1}', [], "unknown quota key 'quota'"),
        ('{"winners": "two"}', [], "winners must be a whole number of at least 1"),
        (
            '{"categories": {"welfare": {"min": -1}}}',
            [],
            "categories.welfare.min must be a whole number",
        ),
        ('{"winners": 3}', ["--winners", "2"], "--winners 2 disagrees with winners 3"),
        (
            '{"winners": 2, "categories": {"climate": {"min": 3}}}',
            [],
            "minimums add up to 3, more than the 2",
        ),
        (
            '{"winners": 2, "categories": {"housing": {"min": 1}}}',
            [],
            "category housing needs at least 1 winners",
        ),
        ('{"winners": 9}', [], "9 winners asked for but only 4 entries"),
        ('{"winners": 3, "max_per_organization": 1}', [], None),
    ],
)
def test_bad_or_infeasible_quotas_exit_2_with_a_message(sheet, capsys, quotas, extra, message):
    code = run(["challenge", "rank", sheet(PLANTED), "--quotas", sheet(quotas, "q.json"), *extra])
    err = capsys.readouterr().err
    if message is None:
        assert code == 0 and err == ""
        return
    assert code == 2
    assert message in err
    assert "Traceback" not in err


def test_missing_files_are_reported(tmp_path, capsys):
    assert run(["challenge", "rank", str(tmp_path / "none.csv")]) == 2
    assert "no such file" in capsys.readouterr().err


def test_too_many_winners_for_the_sheet_is_infeasible(sheet, capsys):
    assert run(["challenge", "rank", sheet(PLANTED)]) == 2  # default 50 winners, 4 entries
    assert "50 winners asked for but only 4 entries compete" in capsys.readouterr().err


def test_read_score_sheet_accepts_a_byte_order_mark_and_blank_lines(tmp_path):
    path = tmp_path / "bom.csv"
    path.write_bytes("\ufeffentry_id,judge_id,score\r\nE1,J1,7.25\r\n\r\n".encode())
    rows = read_score_sheet(path)
    assert [(r.entry_id, r.judge_id, r.score) for r in rows] == [("E1", "J1", 7.25)]


def test_rank_score_sheet_refuses_an_unknown_method():
    with pytest.raises(ScoreSheetError, match="unknown method"):
        rank_score_sheet([{"entry_id": "E1", "judge_id": "J1", "score": 5}], "median", 1)


def _on_0_to_100(text: str) -> str:
    """The planted sheet with every score times 10 (a 0-100 rubric)."""
    lines = text.strip().splitlines()
    out = [lines[0]]
    for line in lines[1:]:
        e, j, s, c, o = line.split(",")
        out.append(f"{e},{j},{int(s) * 10},{c},{o}")
    return "\n".join(out) + "\n"


def test_scale_flag_accepts_a_0_to_100_sheet_and_the_default_refuses_it(sheet, capsys):
    path = sheet(_on_0_to_100(PLANTED))
    assert run(["challenge", "rank", path, "--winners", "2", "--json"]) == 2
    assert "outside the rubric scale 1-10" in capsys.readouterr().err
    assert run(["challenge", "rank", path, "--winners", "2", "--scale", "0-100", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["winners"] == ["E1", "E2"]


def test_the_sheets_scale_column_decides_and_must_agree_with_the_flag(sheet, capsys):
    lines = _on_0_to_100(PLANTED).strip().splitlines()
    text = "\n".join([lines[0] + ",scale", *(f"{line},0-100" for line in lines[1:])]) + "\n"
    path = sheet(text)
    assert run(["challenge", "rank", path, "--winners", "2", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["winners"] == ["E1", "E2"]
    assert run(["challenge", "rank", path, "--winners", "2", "--scale", "1-10"]) == 2
    assert "disagrees with --scale 1-10" in capsys.readouterr().err


def test_cut_chooses_every_entry_reaching_the_calibrated_score(sheet, capsys):
    assert run(["challenge", "rank", sheet(PLANTED), "--cut", "5", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["winners"] == ["E1", "E2", "E3"]
    assert run(["challenge", "rank", sheet(PLANTED), "--cut", "9.5"]) == 2
    assert "no entry reaches the cut" in capsys.readouterr().err
    assert run(["challenge", "rank", sheet(PLANTED), "--cut", "5", "--winners", "2"]) == 2
