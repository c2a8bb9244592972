"""The exact MIP by either engine: the same optimum, every row kept, nothing on stdout."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import msgspec
import numpy as np
import pytest

from bench.instances import generate
from matching import candidates, conflicts, master
from matching.load import decode_problem

ROOT = Path(__file__).resolve().parent.parent


def _instance(
    seed: int, scarcity: float, contacts: float
) -> tuple[candidates.Candidates, conflicts.Cliques, np.ndarray]:
    data = generate(12, 90, "OH", seed=seed, scarcity=scarcity, contacts=contacts)
    p = decode_problem(msgspec.json.encode(data))
    cands = candidates.build(p)
    weight = np.array([r.weight for r in p.requests], dtype=np.int64)
    return cands, conflicts.cliques(cands, conflicts.groups(p)), weight[cands.req]


def _keeps_every_rule(
    cands: candidates.Candidates, cl: conflicts.Cliques, chosen: np.ndarray
) -> bool:
    per_request = np.bincount(cands.req[chosen], minlength=len(cands.n_bed))
    per_bed = np.bincount(master.st_key(cands)[chosen], minlength=cands.capacity.size)
    return bool(
        (per_request <= 1).all()
        and (per_bed <= cands.capacity.reshape(-1)).all()
        and len(conflicts.violated(cl, chosen)) == 0
    )


@pytest.mark.parametrize(
    ("seed", "scarcity", "contacts"), [(1, 0.6, 0.6), (2, 0.3, 0.9), (3, 1.2, 0.3)]
)
def test_highs_and_scip_agree_on_both_levels(seed: int, scarcity: float, contacts: float) -> None:
    cands, cl, weight = _instance(seed, scarcity, contacts)
    cols = np.arange(len(cands.req))
    answers = {}
    for engine in ("scip", "highs"):
        first = master.mip(cands, cl, -weight, cols, None, time_limit=60, engine=engine)
        assert first.optimal and _keeps_every_rule(cands, cl, first.chosen)
        placed = int(weight[first.chosen].sum())
        second = master.mip(
            cands, cl, cands.km, cols, first.chosen, time_limit=60,
            min_weight=(weight, placed), engine=engine,
        )  # fmt: skip
        assert second.optimal and _keeps_every_rule(cands, cl, second.chosen)
        assert int(weight[second.chosen].sum()) >= placed
        answers[engine] = (placed, int(cands.km[second.chosen].sum()))
        assert second.bound == pytest.approx(answers[engine][1], abs=1e-6)
    assert answers["highs"] == answers["scip"]


def test_held_arcs_stay_in_the_plan() -> None:
    cands, cl, weight = _instance(4, 0.6, 0.3)
    cols = np.arange(len(cands.req))
    far = np.zeros(len(cols), dtype=bool)
    far[np.argmax(cands.km)] = True  # the farthest arc: never chosen unless held
    result = master.mip(cands, cl, cands.km - 1000 * weight, cols, None, time_limit=60,
                        fixed=far, engine="highs")  # fmt: skip
    assert result.chosen[far].all() and _keeps_every_rule(cands, cl, result.chosen)


def test_a_plan_breaking_a_row_is_never_trusted() -> None:
    rows = [np.array([0, 1]), np.array([1, 2])]
    both = np.array([True, True, False])
    assert not master._keeps(rows, [1.0, 1.0], both, None, np.arange(3))
    one = np.array([True, False, True])
    assert master._keeps(rows, [1.0, 1.0], one, None, np.arange(3))
    weight = np.array([1, 1, 1])
    assert not master._keeps(rows, [1.0, 1.0], one, (weight, 3), np.arange(3))


def test_importing_the_matcher_prints_nothing() -> None:
    """HiGHS's banner would land in `haven match`'s stdout, where the plan goes."""
    code = "import matching.master as m, numpy as np; m._highs().run()"
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert done.stdout == ""
