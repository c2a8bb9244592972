"""The matcher as a bytes-in, bytes-out function, for a worker process or thread.

A process pool receives the problem as its JSON bytes and returns the plan's: cheap to
pickle, and the child imports only the matcher.
"""

from __future__ import annotations

import msgspec

from matching.load import decode_problem
from matching.solve import solve


def solve_json(problem: bytes, time_limit: float, workers: int) -> bytes:
    """Solve a match-problem.md problem file into its plan file."""
    plan = solve(decode_problem(problem), time_limit=time_limit, workers=workers)
    return msgspec.json.encode(plan)
