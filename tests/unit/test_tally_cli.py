"""``hangang tally`` through a parser built from voting.cli.register."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from voting import cli

DATA = Path(__file__).resolve().parents[1] / "data" / "pabulib"
REFERENCE = json.loads((DATA / "reference_outcomes.json").read_text(encoding="utf-8"))


def run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="hangang")
    cli.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(argv)
    return args.handler(args)


def test_json_shape_and_outcome(capsys):
    code = run(
        ["tally", str(DATA / "Netherlands_Assen_2024.pb"), "--rule", "equal-shares-add1", "--json"]
    )
    assert code == 0
    result = json.loads(capsys.readouterr().out)
    assert set(result) == {"rule", "selected", "total_cost", "seconds"}
    assert result["rule"] == "equal-shares-add1"
    expected = REFERENCE["Netherlands_Assen_2024.pb"]["mes_cost_add1"]
    assert sorted(result["selected"]) == sorted(expected["selected"])
    assert result["total_cost"] == expected["total_cost"]
    assert result["seconds"] >= 0


def test_threshold_comes_from_meta(capsys):
    code = run(
        [
            "tally",
            str(DATA / "Poland_Czestochowa_2025.pb"),
            "--rule",
            "greedy-threshold",
            "--sat",
            "points-cost",
            "--json",
        ]
    )
    assert code == 0
    result = json.loads(capsys.readouterr().out)
    expected = REFERENCE["Poland_Czestochowa_2025.pb"]["greedy_points_threshold1000points"]
    assert sorted(result["selected"]) == sorted(expected["selected"])


def test_plain_output_and_explanation(capsys):
    code = run(
        [
            "tally",
            str(DATA / "Netherlands_Assen_2024.pb"),
            "--rule",
            "equal-shares-greedy",
            "--explain",
            "--tie-break",
            "city",
            "--seed",
            "3",
        ]
    )
    out = capsys.readouterr().out
    assert code == 0
    assert "selected: " in out and "total cost: " in out and "time: " in out
    assert "Round 1:" in out and "seed 3" in out and "Funded 10 projects" in out


def test_malformed_file_is_reported_without_traceback(tmp_path, capsys):
    bad = tmp_path / "bad.pb"
    bad.write_text(
        "META\nkey;value\nbudget;10\nvote_type;approval\nPROJECTS\nproject_id;cost\n1;x\nVOTES\nvoter_id;vote\n"
    )
    assert run(["tally", str(bad), "--rule", "greedy"]) == 2
    err = capsys.readouterr().err
    assert "line 7: project 1: cost is not a number" in err
    assert "Traceback" not in err


def test_missing_file_and_bad_combinations(tmp_path, capsys):
    assert run(["tally", str(tmp_path / "none.pb"), "--rule", "greedy"]) == 2
    assert "cannot read" in capsys.readouterr().err
    assert (
        run(["tally", str(DATA / "Netherlands_Assen_2024.pb"), "--rule", "greedy-threshold"]) == 2
    )
    assert "needs --threshold" in capsys.readouterr().err
    assert (
        run(
            ["tally", str(DATA / "Netherlands_Assen_2024.pb"), "--rule", "greedy", "--sat", "borda"]
        )
        == 2
    )
    assert "does not apply" in capsys.readouterr().err


def test_unknown_rule_is_rejected_by_argparse():
    with pytest.raises(SystemExit):
        run(["tally", "x.pb", "--rule", "lottery"])
