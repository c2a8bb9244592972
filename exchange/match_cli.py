"""`haven match`: solve a problem file into a plan, or check a plan against its problem.

Exit codes: 0 done (or the plan keeps the contract), 1 the checked plan breaks it,
2 a malformed or unreadable input (`haven: <message>` on stderr).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import msgspec

from exchange import terminal
from matching.check import check
from matching.load import ProblemError, decode_plan, decode_problem
from matching.solve import solve
from schema.problem import Plan

PLAN_FIELDS = """\
The plan (format version 1, ../shared/spec/match-problem.md), and what Haven adds:
  status                 optimal only when both levels are proven; else feasible
  objective              placed_weight, then total_km (each placement's km, rounded)
  bound.placed_weight    proven upper bound on the placed weight
  bound.total_km         (added) proven lower bound on the km of any plan placing
                         bound.placed_weight; given only when this plan places that
                         much (level 1 proven), so the km gap is total_km - this
  assignments[].km       her distance cost: km from home, else from her release point
  assignments[].alternatives
                         (added) how many other shelters passed rules 1-6 for her
                         alone and had not declined her: 0 means no other choice
  unplaced[].reason      the first step of the rule chain no shelter got past:
                         no_bed_of_type, not_eligible, out_of_range,
                         safety_exclusion, capacity
  unplaced[].detail      the counts, then her 3 nearest shelters that got that far
                         and what stopped each ("s00017, 12 km: children 4 > max 2");
                         never a contact token
  moved                  (added, with --previous) placements this plan changed
  cut_by_time_limit      (added, only when true) the clock, not a fixed work budget,
                         ended a step: the plan keeps every rule, a re-run may differ
Without cut_by_time_limit, a re-run with the same problem and options gives the same
plan bit for bit (solve_seconds aside)."""


def add_parser(sub: Any) -> None:
    """Register `match` on the `haven` subcommands."""
    p = sub.add_parser(
        "match",
        help="place women in beds (match-problem.md), or --check a plan",
        description="Solve PROBLEM.json into a plan, or with --check verify PLAN.json.",
        epilog=PLAN_FIELDS,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("problem", metavar="PROBLEM.json")
    p.add_argument("plan", metavar="PLAN.json", nargs="?", help="the plan to verify (--check)")
    p.add_argument("-o", "--output", metavar="PLAN.json", help="write the plan here, not stdout")
    p.add_argument(
        "--time-limit",
        type=float,
        default=60.0,
        metavar="S",
        help="a safety net: the best plan so far after S seconds (default 60)",
    )
    p.add_argument(
        "--workers",
        type=int,
        default=2,
        metavar="N",
        help="threads for the regional solves, used above national size (default 2)",
    )
    p.add_argument("--previous", metavar="PLAN.json", help="keep its placements where possible")
    p.add_argument("--check", action="store_true", help="verify PLAN.json against PROBLEM.json")
    p.add_argument("--json", action="store_true", help="the plan as JSON even on a terminal")
    p.set_defaults(func=run)


def run(args: argparse.Namespace, settings: object = None) -> int:
    """Run `haven match`; `settings` is the exchange's and unused here."""
    try:
        problem = decode_problem(_read(args.problem))
        if args.check:
            if args.plan is None:
                raise ProblemError("--check needs PROBLEM.json and PLAN.json")
            errors = check(problem, decode_plan(_read(args.plan)))
            sys.stdout.write(
                msgspec.json.encode({"ok": not errors, "errors": errors}).decode() + "\n"
            )
            return 0 if not errors else 1
        if args.plan is not None:
            raise ProblemError("a second file is only read with --check; use -o to write the plan")
        if args.time_limit <= 0 or args.workers < 1:
            raise ProblemError("--time-limit must be > 0 and --workers >= 1")
        previous = decode_plan(_read(args.previous)) if args.previous else None
    except ProblemError as exc:
        sys.stderr.write(f"haven: {exc}\n")
        return 2
    options: dict[str, Any] = {"time_limit": args.time_limit, "workers": args.workers}
    if sys.stderr.isatty():  # the phase and gap as it goes; nothing when piped or logged
        from rich.console import Console

        with Console(stderr=True).status("solving") as status:
            plan = solve(problem, **options, previous=previous, progress=status.update)
    else:
        plan = solve(problem, **options, previous=previous)
    data = msgspec.json.format(msgspec.json.encode(plan), indent=2) + b"\n"
    if not args.output and terminal.for_people(args):
        _show(plan)
        return 0
    if args.output:
        Path(args.output).write_bytes(data)
        sys.stdout.write(summary(plan) + f"\nPlan written to {args.output}.\n")
    else:
        sys.stdout.buffer.write(data)
    return 0


def summary(plan: Plan) -> str:
    """What a planner reads first: how many placed, how far, how sure, and why not."""
    o, b = plan.objective, plan.bound
    placed = len(plan.assignments)
    total = placed + len(plan.unplaced)
    if plan.status == "optimal":
        sure = "proven optimal"
    else:
        sure = f"not proven optimal (weight bound {b.placed_weight}"
        sure += f", km bound {b.total_km:,})" if b.total_km is not None else ")"
    lines = [
        f"{placed} of {total} placed (weight {o.placed_weight}), {o.total_km:,} km in "
        f"total; {sure}; {plan.solve_seconds:.1f} s."
    ]
    if plan.cut_by_time_limit:
        lines.append("The time limit cut the search short: a re-run may give another plan.")
    reasons: dict[str, int] = {}
    for u in plan.unplaced:
        reasons[u.reason] = reasons.get(u.reason, 0) + 1
    if reasons:
        listed = ", ".join(f"{n} {code}" for code, n in sorted(reasons.items()))
        lines.append(f"Not placed: {listed}.")
    return "\n".join(lines)


def _read(path: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise ProblemError(f"cannot read {path}: {exc.strerror}") from None


def _show(plan: Plan) -> None:
    """The plan as a person reads it: the verdict, who goes where, who does not and why."""
    terminal.say(f"{summary(plan)}\n(`--json` or `-o FILE` for the plan itself)")
    terminal.table(
        "Placed",
        ["request", "shelter", "bed", "km"],
        [(a.request, a.shelter, a.bed_type, a.km) for a in plan.assignments],
    )
    terminal.table(
        "Unplaced",
        ["request", "reason", "detail"],
        [(u.request, u.reason, u.detail) for u in plan.unplaced],
    )
