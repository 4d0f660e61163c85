"""The blended ranking of a stage: normalisation, weights, the published tie-break, the sheet round trip."""

from __future__ import annotations

import csv
import io

import pytest

from judging.compute.blend import (
    SHEET_COLUMNS,
    BlendError,
    SourceResult,
    Weights,
    blend,
    lot,
    parse_sheet,
    sheet_rows,
)


def test_each_source_is_rescaled_to_0_100_and_weighted():
    rows = blend(
        [SourceResult("E-a", 10.0, 5.5, 4), SourceResult("E-b", 1.0, 10.0, 8), SourceResult("E-c", None, None, 0)],
        Weights(60, 30, 10),
        0,
    )
    by_id = {r.entry_id: r for r in rows}
    assert (by_id["E-a"].expert, by_id["E-a"].panel, by_id["E-a"].public) == (100.0, 50.0, 50.0)
    assert by_id["E-a"].blended == 60 + 15 + 5
    assert by_id["E-b"].blended == 0 + 30 + 10
    assert by_id["E-c"].blended == 0
    assert [r.entry_id for r in rows] == ["E-a", "E-b", "E-c"]
    assert [r.rank for r in rows] == [1, 2, 3]


def test_ties_go_to_expert_then_panel_then_public_then_the_seeded_lot():
    # Same blended score (75): the higher expert value wins.
    rows = blend([SourceResult("E-a", 5.5, 10.0, 0), SourceResult("E-b", 10.0, 5.5, 0)], Weights(50, 50, 0), 0)
    assert rows[0].blended == rows[1].blended == 75
    assert [r.entry_id for r in rows] == ["E-b", "E-a"]
    # Identical results: the lot decides, lower sha256("<seed>:<entry>") first, and the seed matters.
    same = [SourceResult("E-a", 7.0, None, 0), SourceResult("E-b", 7.0, None, 0)]
    for seed in (1, 2, 3):
        expected = sorted(["E-a", "E-b"], key=lambda e: lot(seed, e))
        assert [r.entry_id for r in blend(same, Weights(100, 0, 0), seed)] == expected


@pytest.mark.parametrize("weights", [Weights(60, 30, 5), Weights(101, 0, -1), Weights(0, 0, 0)])
def test_weights_that_do_not_sum_to_100_are_refused(weights):
    with pytest.raises(BlendError):
        blend([SourceResult("E-a", 7.0, None, 0)], weights, 0)


def test_the_exported_sheet_parses_back_to_the_same_ranking():
    results = [SourceResult(f"E-{i}", 1 + i * 0.731, 2 + (i * 7 % 9) * 0.5 if i % 3 else None, i * 3 % 7) for i in range(12)]
    weights = Weights(60, 30, 10)
    ranked = blend(results, weights, 42)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(SHEET_COLUMNS)
    writer.writerows(sheet_rows(ranked, {}, weights, 42))
    parsed, parsed_weights, seed = parse_sheet(csv.DictReader(io.StringIO(buffer.getvalue())))
    assert (parsed_weights, seed) == (weights, 42)
    assert blend(parsed, parsed_weights, seed) == ranked


def test_a_sheet_with_mixed_weights_is_refused():
    header = ",".join(SHEET_COLUMNS)
    text = f"{header}\n1,E-a,,7,,0,,,,,60,30,10,1\n2,E-b,,6,,0,,,,,50,40,10,1\n"
    with pytest.raises(BlendError, match="same on every line"):
        parse_sheet(csv.DictReader(io.StringIO(text)))


def test_the_command_refuses_a_sheet_whose_weights_do_not_sum_to_100(tmp_path, capsys):
    from argparse import Namespace

    from judging.cli import run_blend

    sheet = tmp_path / "blend.csv"
    sheet.write_text(",".join(SHEET_COLUMNS) + "\n1,E-a,,7,,0,,,,,60,30,5,1\n", encoding="utf-8")
    assert run_blend(Namespace(sheet=str(sheet), json=True)) == 2
    assert "the weights must sum to 100 (they sum to 95)" in capsys.readouterr().err
    assert run_blend(Namespace(sheet=str(tmp_path / "missing.csv"), json=True)) == 2
