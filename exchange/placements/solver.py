"""The matcher as a bytes-in, bytes-out function, for a worker process or thread.

A process pool receives what the run read from the database as msgpack bytes, builds the
problem there (`rules.build_problem`: thousands of requests' worth of Python that would
otherwise hold the event loop), solves it, and returns the problem and plan files as JSON
bytes: cheap to pickle, and the child imports only the pure rules and the matcher. The
worker process runs at a lower scheduling priority (`init_worker`, its initializer):
on a small machine the solver's threads would otherwise take the cores from the event
loop that acknowledges shelters' reports, and a run would show up as report latency.
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import time

import msgspec

from exchange.placements import rules
from matching.load import decode_problem
from matching.solve import solve

_INPUT = msgspec.msgpack.Decoder(rules.MatchingInput)


class Solved(msgspec.Struct, frozen=True, kw_only=True):
    """A run's problem and plan files, and how long building and solving took."""

    problem: bytes
    plan: bytes
    build_seconds: float
    solve_seconds: float


def encode_input(data: rules.MatchingInput) -> bytes:
    return msgspec.msgpack.encode(data)


def build_and_solve(data: bytes, stale_after_s: float, time_limit: float, workers: int) -> Solved:
    """Build the problem from a run's input (`encode_input`) and solve it."""
    started = time.perf_counter()
    read = _INPUT.decode(data)
    problem = msgspec.json.encode(
        rules.build_problem(
            read.shelters,
            read.requests(),
            read.residents,
            now=read.now,
            stale_after=dt.timedelta(seconds=stale_after_s),
        )
    )
    built = time.perf_counter()
    plan = solve_json(problem, time_limit, workers)
    return Solved(
        problem=problem,
        plan=plan,
        build_seconds=built - started,
        solve_seconds=time.perf_counter() - built,
    )


def solve_json(problem: bytes, time_limit: float, workers: int) -> bytes:
    """Solve a match-problem.md problem file into its plan file."""
    plan = solve(decode_problem(problem), time_limit=time_limit, workers=workers)
    return msgspec.json.encode(plan)


SOLVER_NICENESS = 10


def init_worker() -> None:
    """Initializer of the solver's worker process: yield the CPU to the exchange, and leave
    Ctrl-C to the exchange, which shuts the pool down (the worker would otherwise print a
    KeyboardInterrupt traceback of its own)."""
    os.nice(SOLVER_NICENESS)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
