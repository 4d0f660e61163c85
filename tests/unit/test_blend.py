"""The blended ranking of a stage: normalisation, weights, the published tie-break, the sheet round trip."""

from __future__ import annotations

import csv
import io
import json

import pytest

from judging.compute.blend import (
    SHEET_COLUMNS,
    BlendError,
    SourceResult,
    Weights,
    blend,
    lot,
    parse_blend_sheet,
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


def test_scores_are_rescaled_from_the_stage_scale_and_the_sheet_records_it():
    results = [SourceResult("E-a", 50.0, 100.0, 0), SourceResult("E-b", 80.0, 0.0, 0)]
    on_0_100 = blend(results, Weights(50, 50, 0), 3, (0, 100))
    by_id = {r.entry_id: r for r in on_0_100}
    assert (by_id["E-a"].expert, by_id["E-a"].panel, by_id["E-a"].blended) == (50.0, 100.0, 75.0)
    assert (by_id["E-b"].expert, by_id["E-b"].panel, by_id["E-b"].blended) == (80.0, 0.0, 40.0)
    # The same scores read as 1-10 would clamp to 100 each: the scale changes the ranking's values.
    assert blend(results, Weights(50, 50, 0), 3)[0].blended == 100.0
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(SHEET_COLUMNS)
    writer.writerows(sheet_rows(on_0_100, {}, Weights(50, 50, 0), 3, (0, 100), {"E-a": "welfare"}))
    parsed = parse_blend_sheet(csv.DictReader(io.StringIO(buffer.getvalue())))
    assert (parsed.scale, parsed.categories) == ((0, 100), {"E-a": "welfare"})
    assert blend(parsed.results, parsed.weights, parsed.seed, parsed.scale) == on_0_100


def test_a_sheet_without_a_scale_column_is_read_on_1_10():
    old_columns = [c for c in SHEET_COLUMNS if c not in ("scale", "category")]
    text = ",".join(old_columns) + "\n1,E-a,,5.5,,0,,,,,100,0,0,1\n"
    parsed = parse_blend_sheet(csv.DictReader(io.StringIO(text)))
    assert parsed.scale == (1, 10)
    assert blend(parsed.results, parsed.weights, parsed.seed, parsed.scale)[0].expert == 50.0


def _sheet_file(tmp_path, scale=(0, 100)):
    results = [SourceResult(f"E-{i}", 10.0 * i, None, 0) for i in range(1, 7)]
    ranked = blend(results, Weights(100, 0, 0), 9, scale)
    path = tmp_path / "blend.csv"
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(SHEET_COLUMNS)
        categories = {f"E-{i}": ("welfare" if i % 2 else "transportation") for i in range(1, 7)}
        writer.writerows(sheet_rows(ranked, {}, Weights(100, 0, 0), 9, scale, categories))
    return path


def test_the_command_replays_an_advancement_by_count_cut_or_quotas(tmp_path, capsys):
    from argparse import Namespace

    from judging.cli import run_blend

    sheet = str(_sheet_file(tmp_path))

    def advancing(**rule):
        args = Namespace(sheet=sheet, json=True, count=None, cut=None, quotas=None)
        for key, value in rule.items():
            setattr(args, key, value)
        assert run_blend(args) == 0, capsys.readouterr().err
        return json.loads(capsys.readouterr().out)["advancing"]

    assert advancing(count=2) == ["E-6", "E-5"]
    assert advancing(cut=40.0) == ["E-6", "E-5", "E-4"]  # 0-100 sheet: the cut is the blended value
    quotas = tmp_path / "quotas.json"
    quotas.write_text(json.dumps({"winners": 2, "categories": {"welfare": {"min": 2}}}), encoding="utf-8")
    assert advancing(quotas=str(quotas)) == ["E-5", "E-3"]  # both from welfare (odd entries)
    args = Namespace(sheet=sheet, json=True, count=2, cut=40.0, quotas=None)
    assert run_blend(args) == 2 and "not both" in capsys.readouterr().err


def test_a_cut_on_a_1_10_sheet_is_rescaled_like_the_scores():
    from judging.compute.blend_advance import advance

    ranked = blend([SourceResult(f"E-{i}", float(i), None, 0) for i in range(1, 11)], Weights(100, 0, 0), 0)
    assert advance(ranked, {}, None, 0, cut=8.0, scale=(1, 10))["advancing"] == ["E-10", "E-9", "E-8"]
    with pytest.raises(BlendError, match="outside the scale"):
        advance(ranked, {}, None, 0, cut=11.0, scale=(1, 10))


def test_a_selection_sheet_carries_organizations_and_its_replay_limits_them():
    """A final selection's blend sheet adds each entry's organization: the quotas' per-organization
    limit then holds on the command line too, and the borderline speaks of the blended score."""
    from judging.compute.blend import sheet_columns
    from judging.compute.blend_advance import replay

    ranked = blend([SourceResult(f"E-{i}", float(i), None, 0) for i in range(1, 6)], Weights(100, 0, 0), 3)
    organizations = {"E-5": "O-a", "E-4": "O-a", "E-3": "O-b", "E-2": "O-c", "E-1": "O-d"}
    text = io.StringIO()
    writer = csv.writer(text)
    writer.writerow(sheet_columns(organizations))
    writer.writerows(sheet_rows(ranked, {}, Weights(100, 0, 0), 3, (1, 10), {}, organizations))
    sheet = parse_blend_sheet(csv.DictReader(io.StringIO(text.getvalue())))
    assert sheet.organizations == organizations
    _ranking, limited = replay(sheet, {"winners": 2, "max_per_organization": 1})
    assert limited["winners"] == ["E-5", "E-3"]  # E-4 shares E-5's organization
    assert any(b["reason"].startswith("organization O-a already has a winner") for b in limited["borderline"])
    assert any("blended score" in b["reason"] for b in limited["borderline"])
    _ranking, free = replay(sheet, {"winners": 2, "max_per_organization": None})
    assert free["winners"] == ["E-5", "E-4"]
