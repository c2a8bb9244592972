"""Why a woman was left out, shelter by shelter: what a planner can act on.

Her reason code names the step of the rule chain (match-problem.md) that stopped every
shelter; the detail also names, for her NAMED nearest shelters that got that far, the
clause that stopped each, e.g. "s00017, 12 km: children 4 > max 2". Distances are her
distance cost (from home, else from her release point), except for rule 3, which is
judged from her release point and said so.

A detail never names a contact token: rules 4–6 are told by kind (a shelter that flags
one of her contacts, a contact's last known location, a resident), rule 7 as "a woman
she must be kept apart from".

The clauses are judged here one shelter at a time, in plain Python, against the same
contract `matching.candidates` evaluates in bulk; only the few shelters named are
judged, after a vectorised pass finds the nearest that reached her step.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

import numpy as np

from matching.candidates import Bools, Candidates, Floats, st_key
from matching.conflicts import Cliques
from matching.geo import TOLERANCE_KM, distance, haversine
from schema.problem import Problem, Request, Shelter

NAMED = 3
"""Shelters named in a detail, nearest first."""


class Explainer:
    """The lookups a detail needs, built once per problem and plan."""

    def __init__(self, problem: Problem, cands: Candidates, cl: Cliques, chosen: Bools) -> None:
        self.problem, self.cands = problem, cands
        shelters = problem.shelters
        self.lat = np.array([s.lat for s in shelters])
        self.lon = np.array([s.lon for s in shelters])
        self.t_index = {t: k for k, t in enumerate(cands.bed_types)}
        self.located = {
            c.id: (c.lat, c.lon)
            for c in problem.contacts
            if c.lat is not None and c.lon is not None
        }
        s_index = {s.id: j for j, s in enumerate(shelters)}
        self.resident_tokens: defaultdict[int, set[str]] = defaultdict(set)
        self.apart: defaultdict[str, set[int]] = defaultdict(set)
        """Request id → shelters housing a resident she must be kept apart from."""
        for p in problem.residents:
            home = s_index[p.shelter]
            self.resident_tokens[home].update(p.contacts)
            for other in p.exclude_with:
                self.apart[other].add(home)
        residents = {p.id: s_index[p.shelter] for p in problem.residents}
        for r in problem.requests:
            for other in r.exclude_with:
                if other in residents:
                    self.apart[r.id].add(residents[other])
        # What the plan did with each shelter's beds, for the women left out for capacity.
        st = st_key(cands)
        self.used = np.bincount(st[chosen], minlength=cands.capacity.size)
        self.st = st
        busy = np.zeros(len(cl), dtype=bool)
        if len(cl):
            busy = np.add.reduceat(chosen[cl.arc].astype(np.int64), cl.start[:-1]) > 0
        self.kept_apart = np.zeros(len(cands.req), dtype=bool)
        self.kept_apart[cl.arc[np.repeat(busy, np.diff(cl.start))]] = True
        self.first = np.searchsorted(cands.req, np.arange(len(problem.requests) + 1))
        rules = [s.rules for s in shelters]
        self.max_children = np.array([x.max_children for x in rules])
        self.mat_ok = np.array([x.mat_ok for x in rules], dtype=bool)
        self.min_age = np.array([x.min_age for x in rules])
        self.max_age = np.array([np.inf if x.max_age is None else x.max_age for x in rules])
        self.masks: dict[tuple[str, str], Bools] = {}

    def _mask(self, kind: str, word: str) -> Bools:
        """Shelters that exclude this offense, speak this language or offer this service."""
        key = (kind, word)
        if key not in self.masks:
            sets = {
                "offense": (s.rules.excluded_offenses for s in self.problem.shelters),
                "language": (s.rules.languages for s in self.problem.shelters),
                "service": (s.services for s in self.problem.shelters),
            }[kind]
            self.masks[key] = np.array([word in words for words in sets], dtype=bool)
        return self.masks[key]

    def _eligible(self, r: Request) -> Bools:
        """Shelters passing rule 2 for her, in one vectorised pass."""
        ok = (r.children <= self.max_children) & (self.mat_ok | (not r.mat))
        ok &= (self.min_age <= r.age) & (r.age <= self.max_age)
        for o in r.offenses:
            ok &= ~self._mask("offense", o)
        if r.language is not None:
            ok &= self._mask("language", r.language)
        for n in r.needs:
            ok &= self._mask("service", n)
        return np.asarray(ok)

    def nearest(self, i: int, reason: str) -> str:
        """Her nearest shelters that reached the step of `reason`, each with what stopped
        it ("" when no shelter got that far, as for `no_bed_of_type`)."""
        r = self.problem.requests[i]
        if reason == "capacity":
            return self._capacity(i, r)
        if reason == "no_bed_of_type":
            return ""
        has_bed = self.cands.capacity[:, self.t_index[r.bed_type]] > 0
        home = r.home or r.origin
        d_home = self._from(home.lat, home.lon)
        shelters = self.problem.shelters
        if reason == "not_eligible":
            return _listing(
                (shelters[j], d_home[j], _ineligible(r, shelters[j]))
                for j in _closest(has_bed, d_home)
            )
        eligible = has_bed & self._eligible(r)
        d_origin = self._from(r.origin.lat, r.origin.lon)
        if reason == "out_of_range":
            return _listing(
                (shelters[j], None, f"{d_origin[j]:.0f} km from her release point")
                for j in _closest(eligible, d_origin)
            )
        in_range = eligible & (d_origin <= r.max_km + TOLERANCE_KM)
        return _listing(
            (shelters[j], d_home[j], self._unsafe(r, j)) for j in _closest(in_range, d_home)
        )

    def _from(self, lat: float, lon: float) -> Floats:
        """Km from this point to every shelter."""
        return haversine(np.full(1, lat), np.full(1, lon), self.lat, self.lon)

    def _unsafe(self, r: Request, j: int) -> str:
        """The first of rules 4–6 (or a decline) that keeps her out of shelter j."""
        s = self.problem.shelters[j]
        if set(r.contacts).intersection(s.flagged_contacts):
            return "flagged for one of her contacts (rule 4)"
        for t in r.contacts:
            if t in self.located:
                lat, lon = self.located[t]
                d = distance(lat, lon, s.lat, s.lon)
                if d < r.avoid_km - TOLERANCE_KM:
                    return (
                        f"{d:.0f} km from a contact's last known location, "
                        f"under her {r.avoid_km:g} km (rule 5)"
                    )
        if self.resident_tokens[j].intersection(r.contacts):
            return "a resident there shares one of her contacts (rule 6)"
        if j in self.apart.get(r.id, ()):
            return "a resident there must be kept apart from her (rule 6)"
        return "declined her before"

    def _capacity(self, i: int, r: Request) -> str:
        """Her nearest candidate shelters and what the plan put in her way at each."""
        arcs = np.arange(self.first[i], self.first[i + 1])
        arcs = arcs[np.lexsort((self.cands.shelter[arcs], self.cands.km[arcs]))][:NAMED]
        parts = []
        for a in arcs.tolist():
            j = int(self.cands.shelter[a])
            free = int(self.cands.capacity.reshape(-1)[self.st[a]])
            if self.used[self.st[a]] >= free:
                why = f"its {_n(free, f'{r.bed_type} bed')} went to other women"
            elif self.kept_apart[a]:
                why = "a woman she must be kept apart from is placed there (rule 7)"
            else:  # only a plan cut short by the time limit leaves a usable bed
                why = "a bed is free there, but the search ended first"
            parts.append(f"{self.problem.shelters[j].id}, {self.cands.km[a]} km: {why}")
        return "; ".join(parts)


def _closest(mask: Bools, d: Floats) -> list[int]:
    """The NAMED shelters of `mask` nearest by `d` (ties by index)."""
    idx = np.nonzero(mask)[0]
    nearest: list[int] = idx[np.lexsort((idx, d[idx]))][:NAMED].tolist()
    return nearest


def _listing(rows: Iterable[tuple[Shelter, float | None, str]]) -> str:
    """'s00017, 12 km: why; …' (the km left out where `why` gives its own)."""
    return "; ".join(
        f"{s.id}: {why}" if d is None else f"{s.id}, {d:.0f} km: {why}" for s, d, why in rows
    )


def _ineligible(r: Request, s: Shelter) -> str:
    """Every clause of rule 2 that shelter `s` refuses her for ("" if it accepts her)."""
    rules = s.rules
    why = []
    if r.children > rules.max_children:
        why.append(f"children {r.children} > max {rules.max_children}")
    if r.mat and not rules.mat_ok:
        why.append("no MAT")
    if r.age < rules.min_age:
        why.append(f"age {r.age} < min {rules.min_age}")
    if rules.max_age is not None and r.age > rules.max_age:
        why.append(f"age {r.age} > max {rules.max_age}")
    why.extend(f"excludes {o}" for o in r.offenses if o in rules.excluded_offenses)
    if r.language is not None and r.language not in rules.languages:
        why.append(f"does not speak {r.language}")
    why.extend(f"no {n} service" for n in r.needs if n not in s.services)
    return ", ".join(why)


def _n(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"
