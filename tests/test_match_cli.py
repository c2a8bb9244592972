"""`haven match`: plan files out, --check verdicts, exit code 2 on malformed input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from match_cases import EXAMPLES

from exchange.cli import main


def test_match_writes_a_plan_that_checks(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`haven match P -o PLAN` writes the optimal plan; `--check P PLAN` accepts it."""
    out = tmp_path / "plan.json"
    problem = str(EXAMPLES / "tiny.json")
    assert main(["match", problem, "-o", str(out), "--time-limit", "10", "--workers", "1"]) == 0
    plan = json.loads(out.read_text())
    assert plan["status"] == "optimal"
    assert plan["objective"] == {"placed_weight": 55, "total_km": 573}
    said = capsys.readouterr().out
    total = len(plan["assignments"]) + len(plan["unplaced"])
    assert said.startswith(f"{len(plan['assignments'])} of {total} placed (weight 55), 573 km")
    assert "proven optimal" in said
    assert f"Plan written to {out}." in said
    assert main(["match", "--check", problem, str(out)]) == 0
    assert json.loads(capsys.readouterr().out) == {"ok": True, "errors": []}


def test_a_terminal_reads_the_plan_in_words(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """On a terminal, `haven match P` opens with the same sentence `-o` prints (how many
    placed, how far, how sure), not the plan's fields as Python writes them, then the
    tables."""
    import exchange.terminal

    monkeypatch.setattr(exchange.terminal, "for_people", lambda args: True)
    problem = str(EXAMPLES / "tiny.json")
    assert main(["match", problem, "--time-limit", "10", "--workers", "1"]) == 0
    said = capsys.readouterr().out
    assert " placed (weight 55), 573 km in total; proven optimal;" in said.splitlines()[0]
    assert "Objective(" not in said and "Bound(" not in said
    assert "Placed" in said and "Unplaced" in said


def test_check_rejects_a_tampered_plan(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A plan whose totals were edited fails --check with exit code 1."""
    problem = str(EXAMPLES / "tiny.json")
    assert main(["match", problem, "-o", str(tmp_path / "p.json")]) == 0
    plan = json.loads((tmp_path / "p.json").read_text())
    plan["objective"]["placed_weight"] += 1
    (tmp_path / "p.json").write_text(json.dumps(plan))
    capsys.readouterr()
    assert main(["match", "--check", problem, str(tmp_path / "p.json")]) == 1
    assert not json.loads(capsys.readouterr().out)["ok"]


def test_previous_plan_reports_moves(tmp_path: Path) -> None:
    """`--previous PLAN` re-solves and reports how many placements moved."""
    problem = str(EXAMPLES / "tiny.json")
    first, second = tmp_path / "a.json", tmp_path / "b.json"
    assert main(["match", problem, "-o", str(first)]) == 0
    assert main(["match", problem, "--previous", str(first), "-o", str(second)]) == 0
    assert json.loads(second.read_text())["moved"] == 0


def test_malformed_problem_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A negative max_km is refused with exit code 2 and the field and record on stderr."""
    data = json.loads((EXAMPLES / "tiny.json").read_text())
    data["requests"][1]["max_km"] = -5
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(data))
    assert main(["match", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("haven: ")
    assert f"requests['{data['requests'][1]['id']}'].max_km" in err


def test_unreadable_problem_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A missing file is a clear error, not a traceback."""
    assert main(["match", str(tmp_path / "nope.json")]) == 2
    assert "cannot read" in capsys.readouterr().err


def test_json_syntax_error_is_reported_by_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A problem file with a syntax error exits 2 naming the line and column."""
    bad = tmp_path / "bad.json"
    bad.write_text('{\n  "version": 1,\n  "shelters": [,]\n}')
    assert main(["match", str(bad)]) == 2
    assert "at line 3, column" in capsys.readouterr().err


def test_help_documents_the_plan_fields(capsys: pytest.CaptureFixture[str]) -> None:
    """`haven match --help` explains the fields Haven adds to the plan."""
    with pytest.raises(SystemExit):
        main(["match", "--help"])
    said = capsys.readouterr().out
    for field in ("bound.total_km", "alternatives", "cut_by_time_limit", "moved", "detail"):
        assert field in said, field
