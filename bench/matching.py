"""Matcher benchmark: Haven's solver against greedy and a full HiGHS MIP, same instances.

    uv run python -m bench.matching [--sizes small,state,national] [--time-limit S]
        [--workers N] [--highs-time-limit S] [--no-highs] [--check] [--seed N]
    uv run python -m bench.matching --sweep [--scarcity 0.3,0.6,1.2,1.5]
        [--contacts 0.1,0.3,0.6,0.9] [...]

For each size it prints the solver's time, placed weight and total km, each against
its proven bound (`bound.total_km` is given once the weight is proven), status and
peak memory, then the two baselines on the same instance: greedy (highest weight
first, nearest feasible bed) and an independent exact MIP solved by HiGHS (highspy, a
dev-only dependency), weight first, then km at that weight. `--sweep` runs the
state-size instance over free beds / demand × share of women carrying contact tokens
and prints one table row per shape. A command, not a timed test.

Tenth session, 2026-12-01 (the same kind of machine, slower this day: the unchanged
code ran 1.4–2.2× longer than in the sixth session's sweep, e.g. 0.6 × 0.6 12.1 s against
7.2 s, 1.5 × 0.6 15.4 against 6.6). No solver change. Sweep, seed 1, --no-highs --check,
all 16 proven optimal, 10 within 10 s this day: 0.3 × (0.1, 0.3, 0.6, 0.9) 1.8, 1.9, 2.9,
4.1 s; 0.6 × 2.2, 3.0, 12.1, 42.5; 1.2 × 3.0, 4.4, 19.1, 25.8; 1.5 × 2.5, 5.0, 15.4, 15.1.
The HiGHS baseline on the two slowest shapes, the same hour (--highs-time-limit 300):
0.6 × 0.9 no answer in 660 s (killed), Haven 39.1 s, optimal; 1.2 × 0.9 stopped at
549 s with weight 5975 (the optimum is 5976) and 784,029 km (the optimum's 412,351),
Haven 21.3 s, optimal: more than 16× and 25× HiGHS's time there. 0.6 × 0.9 seed 1 per
solve (30.4 s in all): the weight LP 3.8 s (GLOP 2.31 + 1.01 + 0.52), the distance LP
5.7 s (HiGHS 1.64 s / 12,889 iterations, 2.33 s / 12,633 after 3,789 new columns, then
1.07, 0.40, 0.15), six cut rounds 3.7 s: the LP chain alone 13.2 s, over 10 s before any
MIP. Measured on that LP and left out: the weight LP's first solve (22,836 columns,
33,729 rows, read from an MPS file) takes GLOP 2.6 s, HiGHS dual simplex 2.9, primal
8.3, IPM with crossover 2.8, IPM without 1.6, PDLP 0.39 s to the same value; PDLP's
duals are not a vertex's, and the distance level's certified bound multiplies the weight
duals by BIG (~1e10), so a 1e-7 error costs thousands of km (a weight-floor row would
certify without them, but started cold it was 9.8 s in the eighth session). A
per-shelter decomposition (a column: the women one shelter takes; priced by a small
HiGHS MIP per shelter under its beds and cliques; the distance level with a weight floor
of 5431, started from the optimal plan's 300 patterns), prototyped outside the tree:
its master stayed at the plan's 387,539 km from the first round (degenerate) while the
Lagrangian bound crept from far below to 325,723 km after 71 rounds and 845 s (~5 s of
pricing and ~13 s of master re-solve a round). Without dual stabilisation, seeded
perhaps by the arc LP's duals, it is far from a bound, let alone a fast one. And at
the arc LP's own duals (the distance LP over all 166,381 arcs with the weight floor, no
cuts: 387,500.5 km, 178 s cold in HiGHS) the per-shelter Lagrangian bound, each shelter's
pricing MIP solved exactly, is 387,501.9 km: the shelters' own integrality adds 1.4 km
there, where the zero-half cuts (whose rows span shelters through the women's rows) reach
387,525 and the optimum is 387,539: at those duals, what the LP misses is not inside one
shelter.

Ninth session, 2026-12-01 (the same machine): no solver change. 0.6 × 0.9 seed 1 in
23.1 s, of which the LP chain alone (weight LP 2.9, distance LP 4.6, six cut rounds 3.2 s)
is 10.7 s, over the target before any MIP; 1.2 × 0.9 seed 1 in 13.5 s, 4.9 s of it the
HiGHS proof (root 412,341.4, five restarts after reduced-cost fixing to 412,350.25, and a
sub-MIP that found the last km, 1.7 s). What is left needs an LP both smaller and
tighter, such as a per-shelter decomposition (a column: a set of women one shelter takes
together), not options on this one.

Eighth session, 2026-11-30 (the same machine, its timings swinging by up to a third
between identical runs: 0.6 × 0.9 seed 1 took 29–41 s unchanged). Nothing faster landed.
Both solvers release the GIL (a Python loop beside a SCIP or HiGHS solve kept its full
speed), so the second core was tried: the repair MIP on the distance LP before its cuts,
beside the cut rounds. That LP's integral placements leave the weight bound out of reach
(5430 of 5431 at 0.6 × 0.9), and the weight-first MIP that followed took 36 s: the repair
needs the cut LP. Going straight to the weight-floor LP when the weight LP is fractional
(skipping the face LP, 2.4 s at 1.2 × 0.9 seed 2) made the floor LP's cold solve 9.8 s
against 2.4 + 4.7 s: the face LP is its warm start. `branching/relpscost/maxlookahead = 2`
on the repair MIPs alone: 12.9 → 10.5 s over the eight runs (seeds 1–4 of both slow
shapes), the same plans, inside this machine's noise on the totals. HiGHS options on the
distance LP (devex or Dantzig pricing, no scaling, primal simplex after new columns: the
second solve 2.8 → 11.6 s) and on the proof (no heuristics, no symmetry detection) gave
nothing. The folded-cost flow over the weight LP's face as the distance LP's first
columns (345 more at 0.6 × 0.9) was inside the noise.

Seventh session, 2026-11-30 (the same machine): nothing faster landed. Where 0.6 × 0.9
(seed 1) spends its time, per solve: the weight LP 2.9 s in GLOP (its first solve 1.7 s;
each re-solve after pricing ~0.4 s even at 3 iterations, where an unchanged re-solve takes
0.018 s: OR-Tools re-extracts a changed model); the distance LP's pricing 4.4 s over five
HiGHS solves (the second, after 3,789 new columns, 12,633 iterations, as many as the
first); six cut rounds 387,500.5 → 387,523.5 km; the repair MIP 4.1 s, 3 s of it in 630
strong-branching LPs over 24 nodes. Tried on the MIPs of both slow shapes, seeds 1–4,
pickled and re-solved alone: CP-SAT (1 or 2 workers) proves none in 60 s, its bound
6,000 km short; SCIP `branching/relpscost/maxlookahead = 2` 19.5 → 17.9 s over the 15
SCIP MIPs, nearly all of it one MIP (4.2 → 2.0 s) while another went 0.6 → 1.1 s;
pseudo-cost branching 20.4 s; `maxreliable = 2` 19.4 s. On GLOP: no scaling, no strong
optimal guarantee, devex norms or feasibility rule leave the re-solve's 0.4 s as it is;
the devex optimisation rule 10 s, its dual simplex 28 s. The distance LP started from
every arc on the weight LP's face (133 k columns): its first solve alone 7.2 s. HiGHS's
proof goes from the LP's 387,525.3 to 387,538.5 at its root through six restarts after
reduced-cost fixing (three cuts in all): presolve on each smaller model strengthens the
LP, which no fixing on the full LP can do; a root loop of our own (fix, separate on the
restricted LP, again) is the next thing to try. Rows that only improving plans keep, added
to that proof, made it slower: Σ max(d, 0)·x ≤ gap − 1 over the reduced costs d (4.9 →
8.7 s at 0.6 × 0.9, 5.0 → 9.7 s at 1.2 × 0.9; 110 s over the eight runs, seeds 1–4 of
both), and with it at least one arc outside the narrow MIP just solved (7.2 and 14.0 s;
114 s); so did HiGHS on every distance MIP with its priced cuts (105.6 s), or no repair
MIP at all (172 s), against ~98–104 s.

Sixth session, 2026-11-30, a slower machine (AMD EPYC, the same 2 cores; the fifth
session's code ran 0.6 × 0.9 in 23–25 s here against 18.7 s there). Both rows the same
hour, `--sizes national --no-highs --check`, checker ok:

                weight (bound)       km (bound)                   status     time   peak RSS
    this code   56466 (56466)        25,429,304 (25,429,304)      optimal    54.7 s  1503 MB
    46d5d46     56466 (56466)        25,429,327 (25,428,703)      feasible   53.1 s  2088 MB

46d5d46 is the fifth session's last commit, whose national path proved both levels in
46 s on that machine. Here its distance LP stopped after six of its ten solves and the
plan said nothing of it. HiGHS holds `time_limit` against the run time of every solve of
a model so far, and each re-solve was given only the time left: once the LP's solves had
used more than that in all, the next one stopped at once (1 s, or 0 iterations, another
run: a plan at 25,429,551 km with a bound 22,823 km below). Each solve now gets the time
left on top of what the model has used, and an LP the clock stops marks the plan
`cut_by_time_limit`. The four solves this lets run cost ~5 s; `greedy.take`, which
screens each chunk of arcs in numpy before its loop in Python, gave back about as much:
a pass over the 3.9 M arcs took 2.3–2.6 s and now 0.3 s, the same plans bit for bit,
and the national path makes five or six (time limit 45 s: the plan is handed back at
46.1 s, where the passes after the clock's cut had run 4.7 s over at 50 s). The zero-half
separation is now numpy over byte-packed bit sets, the same cuts: 0.79 s instead of
1.36–1.87 s for the six rounds at 0.6 × 0.9. `haven match --check` at national size:
6.0 s.

Sweep, the same hour, this code against 46d5d46 (--no-highs --check, all optimal):

    beds/demand contacts | this code   | 46d5d46
            0.3      0.1 |   0.92      |   1.00
            0.3      0.3 |   0.99      |   1.13
            0.3      0.6 |   1.42      |   1.53
            0.3      0.9 |   2.61      |   2.66
            0.6      0.1 |   1.54      |   1.57
            0.6      0.3 |   1.67      |   1.71
            0.6      0.6 |   7.20      |   7.08
            0.6      0.9 |  24.11      |  23.35
            1.2      0.1 |   1.52      |   1.50
            1.2      0.3 |   2.04      |   2.02
            1.2      0.6 |   9.05      |   8.75
            1.2      0.9 |  13.90      |  13.86
            1.5      0.1 |   1.26      |   1.28
            1.5      0.3 |   2.63      |   2.62
            1.5      0.6 |   6.61      |   6.75
            1.5      0.9 |   7.38      |   7.88

The same plans on all 16, the times within the spread of runs: 14 of 16 within 10 s,
0.6 × 0.9 and 1.2 × 0.9 not. Over seeds 1–4 this code took 22.5, 15.0, 8.8, 11.2 s at
0.6 × 0.9 and 13.6, 7.9, 10.3, 8.4 s at 1.2 × 0.9. Where 0.6 × 0.9 (seed 1) spends its
23 s: weight LP 3.1, distance LP 4.3, cut rounds 3.2, the repair MIP 4.1 (SCIP, folded
cost, 4,973 arcs), the narrow distance MIP 2.6, the proof 5.1 (HiGHS, 17,893 arcs,
closed at its root node by reduced-cost fixing and six restarts); the solvers take 21
of the 23 s. Tried and left out (each changes the LP's vertex, and the MIPs after it
move by more than the change saves; judged over seeds 1–4 of both shapes): the distance
LP's columns bounded by 1 (the dual simplex still runs a phase 1 after every pricing,
~10 k iterations even for one new column at national size); the first distance LP by
HiGHS's IPM (0.92 against 1.25 s) or PDLP; dual simplex without cost perturbation;
primal simplex for the re-solves after pricing (8 s for the first); GLOP on the weight
LP with clique rows only once two of their arcs are columns (94.6 against 97.7 s over
the eight runs); GLOP's dual simplex or other initial bases (2–4× slower); HiGHS on the
weight level too (8 s against 3 s); fewer nearest columns in the weight LP (2: 177
against 104 s over the eight); the on-face nearest arcs added at the distance level;
the repair aiming at the weight bound with the km as its cost (102.7 against 103.7 s);
the repair and the narrow MIP run from the uncut LP in a second thread while the cut
rounds run (its plan misses the weight at 0.6 × 0.9; 14.1 against 14.4 s at 1.2 × 0.9);
HiGHS for the repair MIP (45 s); HiGHS's proof without its heuristics (twice as long at
1.2 × 0.9, where they find the last km) or without restarts; reduced-cost fixing over
the duals of every cut round at once (their sets are nested: 27,868 against 27,874
arcs); proving straight from the repaired plan, without the narrow SCIP MIP (0.6 × 0.9:
27,874 arcs in 9.7 s against 7.7 s for the two; 1.2 × 0.9: 48,051 arcs, 39 s in all).

National, 2026-11-30 (fifth session, the same machine), both rows run the same hour,
`--sizes national --no-highs --check`, checker ok:

                weight (bound)       km (bound)                   status     time   peak RSS
    whole LP    56466 (56466)        25,429,304 (25,429,304)      optimal    46.2 s  2096 MB
    regions     56463 (56470)        25,441,932 (none)            feasible   29.9 s  1439 MB

"whole LP" (solve.WHOLE_ARCS): the folded-cost flow's arcs alone start the weight LP
over every arc (16,784 columns, priced up to 208,861), and the distance LP carries on
from the weight LP's solution and the flow's arcs only (17,788 columns, priced up to
234,729), making a clique's row only once it can bind (14,031 of 200,322). Phases:
candidates 3 s, flow 14–16 s, weight LP 8 s, distance LP 16 s and one round of cuts 2
s, the repair MIP (7,002 open arcs) 1 s, which finds the optimum; so both levels are
proven, as the issue aims. The same path run earlier on all the weight LP's columns
took 85 s (the distance LP's first solve alone 28 s; HiGHS's IPM 18 s). "regions": the
commit before (2576edc). Tried and left out the same morning: the regions' plan lifted
to the LP's weight by a MIP holding the weight LP's whole placements (56,466 but km
+6.6 %) and then a MIP over the union of the two plans (56,466, km +0.03–0.09 %, 52–58
s in all); a Lagrangian flow with the weight LP's clique duals (integral here: 13 are
non-zero) as a km bound: 25,413,900, 0.06 % below the optimum, one more 15 s flow. On
harder national shapes neither path ends in 60 s (beds 1.2 × demand, contacts 0.6:
the flow alone 26 s, the weight LP 27–90 s; whole LP 68,077 of ≤ 70,874, regions 67,895
of ≤ 70,640).

Sweep, same session and hour, --no-highs --check, against 2576edc run just before it:
the GLOP solution and duals read in bulk, pricing sorting only the negative arcs, the
distance LP's clique rows made once they can bind, pricing taking the nearest among
equal reduced costs.

    beds/demand contacts | + cuts in the proof   | this session          | 2576edc
            0.3      0.1 |   0.92 optimal        |   0.88 optimal        |   0.92 optimal
            0.3      0.3 |   0.96 optimal        |   0.95 optimal        |   1.01 optimal
            0.3      0.6 |   1.29 optimal        |   1.32 optimal        |   1.29 optimal
            0.3      0.9 |   2.32 optimal        |   2.41 optimal        |   3.04 optimal
            0.6      0.1 |   1.31 optimal        |   1.36 optimal        |   1.37 optimal
            0.6      0.3 |   1.40 optimal        |   1.40 optimal        |   1.43 optimal
            0.6      0.6 |   5.61 optimal        |   5.02 optimal        |   5.77 optimal
            0.6      0.9 |  18.68 optimal        |  19.21 optimal        |  17.43 optimal
            1.2      0.1 |   1.25 optimal        |   1.21 optimal        |   1.28 optimal
            1.2      0.3 |   1.67 optimal        |   1.70 optimal        |   1.92 optimal
            1.2      0.6 |   7.05 optimal        |   7.50 optimal        |   8.00 optimal
            1.2      0.9 |  11.16 optimal        |  13.16 optimal        |  15.10 optimal
            1.5      0.1 |   1.07 optimal        |   1.05 optimal        |   1.06 optimal
            1.5      0.3 |   2.13 optimal        |   2.14 optimal        |   2.03 optimal
            1.5      0.6 |   5.31 optimal        |   6.09 optimal        |   5.76 optimal
            1.5      0.9 |   6.49 optimal        |   6.65 optimal        |   6.13 optimal

"+ cuts in the proof": then the zero-half cuts the distance LP's duals price became rows
of the HiGHS distance MIPs (`master.mip`'s `cuts`), held full where their dual exceeds
the gap: 1.2 × 0.9's 15,332-arc proof 6.0 → 4.0 s. Over seeds 1–4 at contacts 0.9, 7 of
8 runs faster, by up to 1.5 s, one 0.1 s slower (0.6 × 0.9: 18.8, 12.5, 7.5, 9.3 s
against 19.3, 13.9, 8.3, 9.5; 1.2 × 0.9: 11.6, 6.7, 9.0, 7.1 against 13.2, 6.6, 9.0,
7.3); national the same plan in 47.0 s.

14 of 16 within 10 s in all three; what is left is still 0.6 × 0.9 and 1.2 × 0.9,
whose time follows the LP vertex the cuts start from (the MIP that proves 0.6 × 0.9 took 10,207
arcs in one run, 17,893 in another). Tried and left out: the national path's start at
state size (the distance LP from the weight LP's solution and the flow's arcs only):
1.2 × 0.9 11.8 s, 1.5 × 0.9 4.9 s, but 0.6 × 0.9 52 s, its cut rounds stopping after
three with an 82 km gap; with a second round under 1 km needed to stop the cuts: 0.6 ×
0.9 29.7 s, 1.2 × 0.9 21.9 s.

Sweep, 2026-11-30 (fourth session, the same machine), both columns run the same
morning; --no-highs --check, every plan passes the checker. "cuts": the distance LP
tightened by rounds of zero-half cuts (`matching.cuts`, each round priced again), run
straight after the weight LP (no repair of the weight LP's rounding), the priced-rows
MIP in HiGHS, and the first distance MIP narrow unless the proof is at most
solve.PROOF_AT_ONCE arcs. "before": 34d45de (the "flow seed" column below).

    beds/demand contacts | cuts                  | before
            0.3      0.1 |   1.15 optimal        |   1.09 optimal
            0.3      0.3 |   1.36 optimal        |   1.49 optimal
            0.3      0.6 |   1.71 optimal        |   1.81 optimal
            0.3      0.9 |   3.69 optimal        |   4.38 optimal
            0.6      0.1 |   1.81 optimal        |   1.69 optimal
            0.6      0.3 |   1.84 optimal        |   1.74 optimal
            0.6      0.6 |   7.70 optimal        |   7.24 optimal
            0.6      0.9 |  26.63 optimal        |  60.30 0.010 %, cut
            1.2      0.1 |   1.68 optimal        |   1.71 optimal
            1.2      0.3 |   2.36 optimal        |   3.88 optimal
            1.2      0.6 |  10.35 optimal        |  11.74 optimal
            1.2      0.9 |  19.38 optimal        |  60.17 0.008 %, cut
            1.5      0.1 |   1.53 optimal        |   1.44 optimal
            1.5      0.3 |   2.63 optimal        |   2.69 optimal
            1.5      0.6 |   7.60 optimal        |  11.56 optimal
            1.5      0.9 |   8.56 optimal        |  22.97 optimal

All 16 proven (14 before), 13 within 10 s (11); 1.2 × 0.6 ran 9.6–10.4 s in other runs
of this code. The cuts close most of what the distance LP left between itself and the
optimum (the bound when the MIPs start, against the optimum; ten rounds at most, a round
raising the LP by under 1 km the last): 0.6 × 0.9 38.5 → 6.0 km, 1.2 × 0.9 32.6 → 8.0,
1.5 × 0.6 38 → 14.7, 0.6 × 0.6 11.8 → 8.4; each round costs 0.1–0.3 s of separation and
0.2–0.9 s of LP. The MIP that proves 0.6 × 0.9 went from 53,391 arcs (20–22 s) to 10,207
(3.8 s), once a 5,658-arc MIP (4 s) had found the optimum from the repaired plan 19 km
above the bound (solve.PROOF_AT_ONCE; proving straight from that plan took 20,592 arcs
and 11–13 s). The priced-rows MIP at 1.2 × 0.6 (23,372 columns) takes HiGHS 0.7 s, SCIP
2.7 s. Dropping the weight LP's repair saved 1–6 s at contacts 0.6–0.9 (0.6 × 0.9: its
12,963-arc SCIP MIP took 4.6–5.7 s), with the same plans. What is left at 0.6 × 0.9
(26.6 s): weight LP 3.7 s, distance LP 5.7 s and its cut rounds ~6 s, the repair MIP 4 s
(SCIP, 3,920 open arcs), the two MIPs 8 s; at 1.2 × 0.9 (19.4 s) the proof itself, 13,361
arcs in HiGHS, 8 s for an 8 km gap (its root cuts reach 5.5 km below the optimum, then
five restarts). National the same morning: 35.5–36.3 s, the same plan as before (56,463
of ≤ 56,470, km 25,441,932).

Then the repair MIPs (`master.mip` with `fixed`: a neighbourhood search, not a proof)
got one round of SCIP's cut separation at the root: 0.6 × 0.9 26.7 → 22.2 s, 1.2 × 0.9
19.8 → 18.9 s, 1.5 × 0.9 8.7 → 7.8 s, the other 13 within 0.2 s, the same plans on all
16; national 35.2 s, the same plan. (On the narrow distance MIPs that look for a better
plan the same setting took 1.2 → 2.3 s at 1.2 × 0.9, so they keep SCIP's defaults.)

Tried and left out the same morning: cuts of the cuts (the found cuts among the rows
summed, rank 2): the repaired plan's gap at 0.6 × 0.9 19 → 16 km, but rounds of 1.0–1.6
s instead of 0.3–0.9 s, 32 → 38 s; up to 25 rounds until a round gains under 0.2 km: the
same within the runs' spread (0.6 × 0.9 37.4 against 36.9 s; 1.5 × 0.9 13.1 against
9.5, 1.5 × 0.6 6.0 against 9.1); rows with slack below 1 in the separation, not only
tight ones: weaker cuts, slower (an LP over the 53,391-arc proof's columns rose to
387,521 instead of 387,527 in 15 rounds); the cuts as rows of the distance MIPs too:
slower (1.2 × 0.9 23.6 → 27.8 s; 0.6 × 0.9 41.6 s → cut at 60 s); clique rows merged
across contacts (women pairwise sharing some token at a shelter): none violated by the
LP at 1.5 × 0.6; HiGHS for the distance repair MIP: 4.1 → 13.7 s at 1.2 × 0.9; SCIP
with one separation round at the root and no restart on the narrow distance MIP: 3.9 →
2.5 s at 0.6 × 0.9 but 1.2 → 2.3 s at 1.2 × 0.9;
the repair over arcs below 2 or 4 km instead of 8: 0.6 × 0.9 faster, 1.2 × 0.9 slower;
HiGHS heuristic effort 0.01 or 0.2, no restarts, a smaller cut pool on the 1.2 × 0.9
proof: 8.3–10.0 s against 8.6 s.

Sweep, 2026-11-30 (third session, the same machine as the second), all three columns
run the same morning; --no-highs --check, every plan passes the checker, the weight
proven on all 16. "flow seed": the weight LP's first columns also hold the arcs of the
weight-only min-cost flow (`solve._exact`). "HiGHS distance LP": the distance level's LP
moved from GLOP to HiGHS (`master.Relaxation`; the weight level stays in GLOP).
"before": the commit before that.

    beds/demand contacts | flow seed             | HiGHS distance LP     | before
            0.3      0.1 |   0.99 optimal        |   1.17 optimal        |   1.24 optimal
            0.3      0.3 |   1.51 optimal        |   1.56 optimal        |   1.99 optimal
            0.3      0.6 |   1.89 optimal        |   1.87 optimal        |   2.92 optimal
            0.3      0.9 |   4.70 optimal        |   8.04 optimal        |  10.30 optimal
            0.6      0.1 |   1.81 optimal        |   2.19 optimal        |   1.58 optimal
            0.6      0.3 |   1.92 optimal        |   2.58 optimal        |   2.78 optimal
            0.6      0.6 |   7.33 optimal        |  10.38 optimal        |  14.45 optimal
            0.6      0.9 |  60.16 0.010 %, cut   |  59.79 optimal        |  59.42 optimal
            1.2      0.1 |   1.49 optimal        |   2.10 optimal        |   1.88 optimal
            1.2      0.3 |   3.26 optimal        |   4.22 optimal        |   4.89 optimal
            1.2      0.6 |  11.15 optimal        |  14.89 optimal        |  30.82 optimal
            1.2      0.9 |  60.20 0.008 %, cut   |  60.26 0.008 %, cut   |  60.26 0.008 %, cut
            1.5      0.1 |   1.33 optimal        |   1.50 optimal        |   1.57 optimal
            1.5      0.3 |   2.57 optimal        |   2.82 optimal        |   3.81 optimal
            1.5      0.6 |  10.34 optimal        |  17.70 optimal        |  18.60 optimal
            1.5      0.9 |  19.95 optimal        |  28.44 optimal        |  34.24 optimal

With the flow seed: 11 within 10 s, and the 14 shapes proven in every column took 70 s
against 99 s and 131 s; the LP starts near its optimum (the flow holds rule 7 for a
woman in one clique), so pricing adds fewer columns, and its vertex starts the MIPs
closer (at 1.2 × 0.6 the weight LP took 3.9 s; now the flow 0.36 s, the LP 2.1 s). 0.6 ×
0.9 sits at the 60 s limit in all three (59.4 and 59.8 s proven before; given 120 s now,
proven in 78 s: its 28,021-arc MIP took 23 s this time). National with the flow seed:
32.0 s (41.2 s), and one woman more: 56,463 of ≤ 56,470, km 25,441,932, checker ok.
Seeding with the folded-cost flow instead (weight, then km; 0.4–0.7 s) was slower on 4
of 5 shapes tried (1.2 × 0.6: 14.3 s against 11.4 s; 0.3 × 0.9: 6.8 against 4.6 s).

HiGHS distance LP against before: 15 of 16 proven in both, 10 within 10 s (9 before);
the 15 proven shapes took 159 s in all against 190 s. GLOP re-factorised after every
batch of priced columns, ~0.35 s even for one column, where HiGHS updates its factors:
the distance LP went from 5.8 to 1.9 s at 0.6 × 0.6 and from 16 to 3.3 s at 1.2 × 0.6
(its weight-floor LP). At contacts 0.1 GLOP, warm from the weight level, was quicker
(0.6 × 0.1 loses 0.6 s). 1.2 × 0.9 given 120 s is proven in 89.6 s: its LPs end at 8 s,
then MIPs of 5,466, 11,427, 35,218 and 66,669 arcs take 4.5, 5.7, 41 and 20 s; HiGHS's
log of the 35,218-arc one shows its root bound 6 km below the optimum at 7 s and a
sub-MIP heuristic finding the optimum at 32 s (RINS, RENS or root reduced-cost
heuristics off: 30–52 s). 0.6 × 0.9 and 1.5 × 0.9 vary by up to 10 s between runs of the
same code, as the LP's vertex changes which plans the MIPs start from (1.5 × 0.9: 18.3 s
with HiGHS's presolve off, 28.4 s on). Tried and left out the same morning: the weight
level in HiGHS too, with clique rows added only once a solution overfills them (~200 of
25,000 bind at the optimum): 3.6 s became 8–10 s at 1.2 × 0.6; GLOP with clique rows
made once a clique has two columns: 3.7 → 3.0 s at 1.2 × 0.6 but 5.2 → 8.2 s at 0.6 ×
0.9; HiGHS for the repair MIPs (4.3 → 5.1 s and 4.5 → 16.6 s); repair MIPs held to 200
nodes (no change: SCIP's time there is its root); going straight to the proving MIP
whenever it has at most PROOF_ARCS arcs (10.4 → 10.2 s, 28.4 → 22.4 s, 1.5 × 0.6
unchanged: within the runs' spread). National the same morning: 41.2 s, 56,462 of ≤
56,470, km 25,439,558 (before: 40.9 s, 56,462, km 25,439,501; the regions' LPs end at
other vertices). A Lagrangian bound from the regions' clique duals over the whole
country's flow (one more 16 s flow) was worse than the flow's own, 56,472–56,580 for
duals scaled by 0.02–1: the regions' duals price rows the flow already holds; the
whole-country LP bound is 56,466 (below).

Sweep, 2026-11-30 (second session, a faster 2-core machine: 0.3 × 0.1 in 0.98 s), all
three columns the same day on the same machine; --no-highs --check, every plan passes
the checker; "gap" is the km gap to `bound.total_km` (the weight is proven on all 16).
"tight rows": the distance-level MIPs also hold full every row whose dual exceeds the
gap (`master.tight_rows`: reduced-cost fixing of the rows' slacks; a woman placed, a
clique used, a bed type full). "cutoff": the distance level's HiGHS MIPs were given the
plan's km as a cutoff (`master.mip`'s `below`) and allowed up to solve.PROOF_ARCS =
80,000 arcs. "before": the commit before the cutoff.

    beds/demand contacts | tight rows            | cutoff                | before
            0.3      0.1 |   1.04 optimal        |   0.98 optimal        |   0.98 optimal
            0.3      0.3 |   1.64 optimal        |   1.60 optimal        |   1.62 optimal
            0.3      0.6 |   2.37 optimal        |   2.24 optimal        |   2.33 optimal
            0.3      0.9 |   9.16 optimal        |   8.55 optimal        |   8.75 optimal
            0.6      0.1 |   1.41 optimal        |   1.23 optimal        |   1.27 optimal
            0.6      0.3 |   2.34 optimal        |   2.19 optimal        |   2.32 optimal
            0.6      0.6 |  12.25 optimal        |  18.24 optimal        |  19.24 optimal
            0.6      0.9 |  49.89 optimal        |  60.18 0.010 %, cut   |  60.15 0.010 %, cut
            1.2      0.1 |   1.72 optimal        |   1.52 optimal        |   1.59 optimal
            1.2      0.3 |   4.15 optimal        |   4.94 optimal        |   5.10 optimal
            1.2      0.6 |  25.28 optimal        |  29.38 optimal        |  39.75 optimal
            1.2      0.9 |  60.22 0.008 %, cut   |  60.16 0.023 %, cut   |  60.19 0.023 %, cut
            1.5      0.1 |   1.23 optimal        |   1.21 optimal        |   1.21 optimal
            1.5      0.3 |   3.17 optimal        |   3.32 optimal        |   3.09 optimal
            1.5      0.6 |  15.37 optimal        |  29.03 optimal        |  16.77 0.021 % (†)
            1.5      0.9 |  27.11 optimal        |  56.29 optimal        |  26.49 0.013 % (†)

(†) 74 km and 16 km above the optimum the later columns prove.

With tight rows: 15 of 16 proven, 10 within 10 s. At 1.2 × 0.9 the first distance MIP
(5,860 arcs) took SCIP 3.6 s instead of 31.5 s, and HiGHS 8 s on 11,883 arcs instead
of 36 s; what is left there is a 67,210-arc proof at a 33 km gap that the 60 s limit
cuts. National unchanged: 33.98 s, the same plan.

With the cutoff alone: 14 of 16 proven (12 before), 10 within 10 s. The cutoff halves
the 27,546-arc proof at 1.2 × 0.6 (HiGHS 20.4 s → 9.1 s, same model, same process); the
wider limit lets 1.5 × 0.6 and 1.5 × 0.9 grow their MIPs to 52,094 and 65,915 arcs and
close. Left then: at
contacts 0.9 with beds 0.6 and 1.2 × demand the LPs take ~18–20 s before any MIP, and
MIPs of 6,000–12,000 arcs take HiGHS 7–36 s (SCIP 33 s on 5,860): the clique of the most
frequent contact holds ~900 women. HiGHS on every distance-level MIP (not only the wide
and the proving ones) gave the same 14 in 156 s of proven time against 161 s, so the
measured engine rule stays. Tried and left out: clique rows made only once a clique
has two LP columns (5,015 of 35,646 at 1.5 × 0.9): GLOP's first solve took 0.33 s
instead of 0.86 s, but GLOP drops its basis whenever rows and columns arrive together,
so the distance LP's rounds went from ~0.5 to ~2.5 s each (pywraplp cannot hand GLOP a
basis). National the same day, unchanged by both: 32.95 s, 56,462 of ≤ 56,470, km
25,439,501; cut by a 25 s limit it now keeps 56,357 (was 55,982), because a region the
clock cuts keeps the flow's plan as far as rule 7 allows.

Sweep, 2026-11-30, after the distance level's wide MIPs moved to HiGHS (`master.mip`,
solve.HIGHS_ARCS), on a 2-core machine about twice as slow as the 11-29 one (0.3 × 0.1:
2.8 s for the 11-29 code here, 1.27 s there), so the baseline is the previous commit
run the same day on the same machine; --no-highs --check, every plan passes the checker:

    beds/demand contacts | this commit              | previous commit, same machine
            0.3      0.1 |   2.35 optimal           |   2.80 optimal
            0.3      0.3 |   3.86 optimal           |
            0.3      0.6 |   5.37 optimal           |
            0.3      0.9 |  16.20 optimal           |
            0.6      0.1 |   3.22 optimal           |
            0.6      0.3 |   4.63 optimal           |
            0.6      0.6 |  37.79 optimal           |  61.08 feasible, km gap 0.003%, cut
            0.6      0.9 |  60.50 feasible 0.984%   |  60.58 feasible, 0.984%, cut
            1.2      0.1 |   3.97 optimal           |
            1.2      0.3 |  16.26 optimal (13.5 *)  |  18.32 optimal
            1.2      0.6 |  61.13 feasible 0.003%   |  60.40 feasible, 0.001%, cut
            1.2      0.9 |  60.65 feasible 0.024%   |  60.65 feasible, 0.044%, cut
            1.5      0.1 |   3.34 optimal           |
            1.5      0.3 |   7.90 optimal           |  17.88 optimal
            1.5      0.6 |  40.16 feasible 0.021%   |  42.34 feasible, 0.021%
            1.5      0.9 |  59.15 feasible 0.013%   |  53.99 feasible, 0.013%

(*) After the sweep, the MIP that proves the plan goes to HiGHS whatever its width
(1.2 × 0.3: its 9,896 arcs 0.95 s, SCIP 5.5 s; 13.5 s in all). 11 of 16 proven here
(the weight level on all 16), 8 within 10 s. The MIP that proves
0.6 × 0.6 (19,494 arcs) takes HiGHS 5.7–7 s; SCIP was still in its root LP when cut.
HiGHS is given no start: with one (setSolution) HiGHS 1.16 returned the start and
claimed an optimum 80 km below the true one at 1.5 × 0.3 (the full HiGHS MIP and SCIP
both say 573307), so `master.mip` also refuses any answer that breaks a row or is not
worth what the solver says. National the same day: 64.7 s, weight 55,455 of ≤ 56,470
(previous commit 64.7 s, 54,957): on this slower machine both are cut by the 60 s limit
before the regions finish, where the 11-29 run below ended in 39 s at 56,462.

Sweep, 2026-11-29, this 2-core machine shared with other work (load 1.6–1.9 at the
start, ~0.2 at the end), seed 1, --no-highs --check (all plans pass the checker);
"gap" is to the proven bound of that level (`bound.total_km` is given, so the km gap
shown, whenever the weight is proven):

    beds/demand contacts | haven s   status    weight (gap)      km (gap)       cut
            0.3      0.1 |    1.27 optimal     4014 ( 0.000%)    185223 ( 0.000%)  no
            0.3      0.3 |    1.89 optimal     3819 ( 0.000%)    169280 ( 0.000%)  no
            0.3      0.6 |    2.61 optimal     3948 ( 0.000%)    195986 ( 0.000%)  no
            0.3      0.9 |    9.21 optimal     3884 ( 0.000%)    218906 ( 0.000%)  no
            0.6      0.1 |    1.76 optimal     5939 ( 0.000%)    387439 ( 0.000%)  no
            0.6      0.3 |    3.48 optimal     5698 ( 0.000%)    360138 ( 0.000%)  no
            0.6      0.6 |   38.44 optimal     5770 ( 0.000%)    400518 ( 0.000%)  no
            0.6      0.9 |   60.31 feasible    5431 ( 0.000%)    387554 ( 0.014%)  yes
            1.2      0.1 |    1.93 optimal     7364 ( 0.000%)    608197 ( 0.000%)  no
            1.2      0.3 |    8.07 optimal     7054 ( 0.000%)    594325 ( 0.000%)  no
            1.2      0.6 |   42.77 optimal     6775 ( 0.000%)    544531 ( 0.000%)  no
            1.2      0.9 |   60.31 feasible    5976 ( 0.000%)    412415 ( 0.023%)  yes
            1.5      0.1 |    1.39 optimal     7413 ( 0.000%)    571413 ( 0.000%)  no
            1.5      0.3 |    7.46 optimal     7117 ( 0.000%)    573307 ( 0.000%)  no
            1.5      0.6 |   19.30 feasible    6807 ( 0.000%)    530726 ( 0.021%)  no
            1.5      0.9 |   22.71 feasible    6030 ( 0.000%)    415085 ( 0.013%)  no

12 of 16 proven optimal (11 on 11-28), the weight level proven on all 16 (15), 10
within 10 s. 1.2 × 0.6 is now proven: its weight LP says 6776, the MIP on the LP's
priced rows proves 6775 (~3 s), and the plan reaches it; but the distance LP over
plans placing 6775 (a dense weight-floor row) took ~6 s a pricing round in GLOP,
~28 s in all, started from the weight LP's basis; started from the km optimum on the
weight LP's face (7 s), it converges in 7 s more (41.7 s in all, same plan). Not yet:
4 shapes unproven, 6 over 10 s. Where it stops now is the distance level: the km LP
is 12–110 km below the best plan, and the MIP that proves it (every arc below that
reduced cost, 19,000+ arcs) spends ~10 s in SCIP's cold root LP, which a few root cuts
then close (measured at 0.6 × 0.6: root LP 10.3 s of 11.3 s, one node); at 1.5 × 0.6
and 0.9 contacts it exceeds MIP_ARCS.

Against HiGHS in the same run (2026-11-29, load ~0.3–1.4, `--sweep --scarcity 1.2,0.6
--contacts 0.6 --highs-time-limit 120 --check`):

    1.2 × 0.6  haven 36.78 s optimal 6775 / 544531   HiGHS 121.85 s weight 6775 proven,
                                                     km 899787 (time limit in stage 2)
    0.6 × 0.6  haven 33.36 s optimal 5770 / 400518   HiGHS 55.29 s optimal 5770 / 400518

National, 2026-11-29, load ~0.2–0.9, `--sizes national --no-highs --check`: 39.18 s,
weight 56462 against the flow bound 56470 (gap ≤ 0.014 %; the weight LP with every
clique, 39 s of GLOP on its own, bounds it by 56466), km 25,439,501, checker ok. The
weight is not proven, so `bound.total_km` is not given: the folded flow's 25,423,130
bounds only plans placing 56470 (0.064 % below this plan). The same plan as on 11-28
(5.6 % fewer km than the old weight-seeded regions' 26,950,373).

Sizes, measured 2026-11-28 before the sweep work (the old single folded LP), load ~2–4:

    size      haven                              greedy           HiGHS full MIP
    small     0.36 s  805 / 16185 km  optimal    771 / 17016 km   0.34 s  805 / 16185 km optimal
    state     6.28 s  5698 / 360138   optimal    5495 / 342966    151.8 s 5698 / 360138 optimal
    national  40–47 s 56460–56462, bound 56470   54470 / 24.6M    no answer: ran 7 min past a
              gap ≤ 0.018%, feasible, 1.4 GB RSS                  120 s limit (4.7 GB); killed
"""

from __future__ import annotations

import argparse
import multiprocessing
import resource
import sys
import time

import msgspec
import numpy as np

from bench.instances import SIZES, generate
from matching import candidates, conflicts, greedy
from matching.check import check
from matching.load import decode_problem
from matching.solve import solve
from schema.problem import Problem


def run_greedy(p: Problem) -> tuple[float, int, int]:
    """Highest weight first, then the nearest feasible bed."""
    t = time.monotonic()
    cands = candidates.build(p)
    cl = conflicts.cliques(cands, conflicts.groups(p))
    weight = np.array([r.weight for r in p.requests], dtype=np.int64)
    order = np.lexsort((np.arange(len(cands.req)), cands.km, -weight[cands.req]))
    chosen = greedy.take(cands, cl, order)
    placed = int(weight[cands.req[chosen]].sum())
    return time.monotonic() - t, placed, int(cands.km[chosen].sum())


def run_highs(p: Problem, time_limit: float) -> tuple[float, int, int, str, int, int | None]:
    """The whole model as one MIP per level (one column per candidate arc, every rule as
    rows): the weight first, then the km with the weight held at its optimum.

    Two stages rather than the folded cost: with weight·BIG + km (BIG ~1e6) HiGHS's
    tolerances blur the kilometre and its simplex struggles (state size, contacts 0.6,
    scarcity 1.2: the folded LP took 18 s of CPU against 1.8 s for the weight alone).
    Returns seconds, weight, km, status, weight bound, km bound (None unless stage 2 ran).
    """
    import highspy

    t = time.monotonic()
    cands = candidates.build(p)
    cl = conflicts.cliques(cands, conflicts.groups(p))
    n_r, n_arcs = len(p.requests), len(cands.req)
    cap = cands.capacity.reshape(-1)
    st = candidates.st_key(cands)
    clique_of_entry = np.repeat(np.arange(len(cl)), np.diff(cl.start))
    rows = np.concatenate([cands.req, n_r + st, n_r + cap.size + clique_of_entry])
    cols = np.concatenate([np.arange(n_arcs), np.arange(n_arcs), cl.arc])
    order = np.lexsort((rows, cols))
    rows, cols = rows[order], cols[order]
    weight = np.array([r.weight for r in p.requests], dtype=np.int64)
    arc_weight = weight[cands.req].astype(np.float64)
    lp = highspy.HighsLp()
    lp.num_col_ = n_arcs
    lp.num_row_ = n_r + cap.size + len(cl)
    lp.col_cost_ = -arc_weight
    lp.col_lower_ = np.zeros(n_arcs)
    lp.col_upper_ = np.ones(n_arcs)
    lp.row_lower_ = np.zeros(lp.num_row_)
    lp.row_upper_ = np.concatenate([np.ones(n_r), cap, np.ones(len(cl))]).astype(np.float64)
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = np.searchsorted(cols, np.arange(n_arcs + 1)).astype(np.int32)
    lp.a_matrix_.index_ = rows.astype(np.int32)
    lp.a_matrix_.value_ = np.ones(len(rows))
    lp.integrality_ = [highspy.HighsVarType.kInteger] * n_arcs
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    h.setOptionValue("time_limit", float(time_limit))
    h.setOptionValue("mip_rel_gap", 0.0)
    h.setOptionValue("mip_abs_gap", 0.99)
    h.passModel(lp)
    h.run()

    def solution() -> np.ndarray | None:
        if not h.getInfo().primal_solution_status:
            return None
        return np.asarray(h.getSolution().col_value)[:n_arcs] > 0.5

    x = solution()
    weight_optimal = h.getModelStatus() == highspy.HighsModelStatus.kOptimal
    bound_w = int(np.floor(-h.getInfo().mip_dual_bound + 1e-6))
    status = "time limit" if not weight_optimal else "optimal"
    bound_km: int | None = None
    if weight_optimal and x is not None:
        best = int(weight[cands.req[x]].sum())
        h.changeColsCost(n_arcs, np.arange(n_arcs, dtype=np.int32), cands.km.astype(np.float64))
        h.addRow(best, highspy.kHighsInf, n_arcs, np.arange(n_arcs, dtype=np.int32), arc_weight)
        h.setOptionValue("time_limit", max(1.0, float(time_limit) - (time.monotonic() - t)))
        start = highspy.HighsSolution()  # stage 1's plan is a start for stage 2
        start.col_value = x.astype(np.float64).tolist()
        start.value_valid = True
        h.setSolution(start)
        h.run()
        x2 = solution()
        x = x2 if x2 is not None else x
        bound_km = int(np.ceil(h.getInfo().mip_dual_bound - 1e-6))
        if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
            status = "km: time limit"
    placed = int(weight[cands.req[x]].sum()) if x is not None else 0
    km = int(cands.km[x].sum()) if x is not None else 0
    return time.monotonic() - t, placed, km, status, bound_w, bound_km


HighsResult = tuple[float, int, int, str, int, "int | None"]


def highs(p: Problem, time_limit: float) -> HighsResult | None:
    """Run the HiGHS baseline in a child process, killed if it overruns its own limit
    (None then). At national size HiGHS was seen to run on for minutes past its limit."""
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    child = ctx.Process(target=_highs_child, args=(p, time_limit, queue))
    child.start()
    try:
        result: HighsResult = queue.get(timeout=2 * time_limit + 60)
    except Exception:
        child.kill()
        child.join()
        return None
    child.join()
    return result


def _highs_child(p: Problem, time_limit: float, queue: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    queue.put(run_highs(p, time_limit))


def _gap(bound: int | None, value: int) -> str:
    """Relative gap of `value` to `bound`, or '—' when there is no bound."""
    if bound is None:
        return "—"
    return f"{abs(value - bound) / max(1, abs(bound)):.3%}"


def run_sizes(args: argparse.Namespace) -> None:
    """One block per size: Haven, greedy, HiGHS, each on its own line."""
    for size in args.sizes.split(","):
        n_s, n_r, state = SIZES[size]
        p = decode_problem(msgspec.json.encode(generate(n_s, n_r, state, seed=args.seed)))
        beds = sum(sum(s.beds.values()) for s in p.shelters)
        print(f"== {size}: {n_s} shelters × {n_r} women ({state or 'US'}), {beds} free beds")
        t = time.monotonic()
        plan = solve(p, time_limit=args.time_limit, workers=args.workers)
        elapsed = time.monotonic() - t
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        o, b = plan.objective, plan.bound
        print(
            f"haven   {elapsed:7.2f} s  weight {o.placed_weight:7d} (bound {b.placed_weight}, "
            f"gap {_gap(b.placed_weight, o.placed_weight)})  km {o.total_km:9d} (bound "
            f"{b.total_km if b.total_km is not None else '—'}, gap {_gap(b.total_km, o.total_km)})"
            f"  {plan.status}  peak RSS {peak:.0f} MB"
        )
        if args.check:
            errors = check(p, plan)
            print(f"checker {'ok' if not errors else errors[:3]}")
        g_time, g_weight, g_km = run_greedy(p)
        print(f"greedy  {g_time:7.2f} s  weight {g_weight:7d}  km {g_km:9d}")
        if not args.no_highs:
            h = highs(p, args.highs_time_limit)
            if h is None:
                print("highs   no answer (killed)")
            else:
                h_time, h_weight, h_km, h_status, h_bw, h_bkm = h
                print(
                    f"highs   {h_time:7.2f} s  weight {h_weight:7d} (bound {h_bw})  "
                    f"km {h_km:9d} (bound {h_bkm if h_bkm is not None else '—'})  {h_status}"
                )


def run_sweep(args: argparse.Namespace) -> None:
    """The state-size shape sweep as a table: scarcity × contact share, Haven vs HiGHS."""
    n_s, n_r, state = SIZES["state"]
    print(f"== sweep: {n_s} shelters × {n_r} women ({state}), seed {args.seed}")
    print(
        "beds/demand contacts | haven s   status    weight (gap)      km (gap to bound)   "
        "cut | highs s   status          weight      km"
    )
    for scarcity in (float(x) for x in args.scarcity.split(",")):
        for share in (float(x) for x in args.contacts.split(",")):
            data = generate(n_s, n_r, state, seed=args.seed, scarcity=scarcity, contacts=share)
            p = decode_problem(msgspec.json.encode(data))
            t = time.monotonic()
            plan = solve(p, time_limit=args.time_limit, workers=args.workers)
            elapsed = time.monotonic() - t
            o, b = plan.objective, plan.bound
            line = (
                f"{scarcity:11.1f} {share:8.1f} | {elapsed:7.2f} {plan.status:9s} "
                f"{o.placed_weight:6d} ({_gap(b.placed_weight, o.placed_weight):>7s})  "
                f"{o.total_km:8d} ({_gap(b.total_km, o.total_km):>7s})  "
                f"{'yes' if plan.cut_by_time_limit else 'no ':3s} |"
            )
            if args.check:
                errors = check(p, plan)
                line += "" if not errors else f" CHECKER: {errors[:2]}"
            if not args.no_highs:
                h = highs(p, args.highs_time_limit)
                if h is None:
                    line += " no answer (killed)"
                else:
                    h_time, h_weight, h_km, h_status, _, _ = h
                    line += f" {h_time:7.2f} {h_status:15s} {h_weight:6d} {h_km:8d}"
            print(line)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--sizes", default="small,state,national")
    ap.add_argument("--sweep", action="store_true", help="the state-size shape sweep instead")
    ap.add_argument("--scarcity", default="0.3,0.6,1.2,1.5", help="free beds / demand (sweep)")
    ap.add_argument("--contacts", default="0.1,0.3,0.6,0.9", help="share with tokens (sweep)")
    ap.add_argument("--time-limit", type=float, default=60.0)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--highs-time-limit", type=float, default=300.0)
    ap.add_argument("--no-highs", action="store_true")
    ap.add_argument("--check", action="store_true", help="also run the checker on the plan")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    if args.sweep:
        run_sweep(args)
    else:
        run_sizes(args)


if __name__ == "__main__":
    main()
