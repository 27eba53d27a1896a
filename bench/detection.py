"""Detection benchmark: postwatch's judge vs River (ADWIN, PageHinkley) and Evidently's default
drift rule, on the same streams, in one run.

Every scenario is a stream of events with one known change point ``c`` (drawn at a random
offset inside window 24, so windows are not aligned with it) and a separate null stretch with
no change (100,000 events by default). The same events go to every detector:

* **postwatch**: events are added to a :class:`~detectors.summary.WindowSummary` per window of
  ``w`` events; each closed window is judged by :func:`detectors.judge.judge` (default
  :class:`~detectors.judge.JudgeConfig`) against the trailing reference of a
  :class:`~detectors.reference.ReferenceState` (defaults: blocks of 12 windows, 8 blocks);
  an alarm is ``verdict.finding``. As in the pipeline, windows with a finding are kept out of
  the reference.
* **River** ``ADWIN()`` and ``PageHinkley()`` with their defaults, updated once per event on a
  univariate view of the event (the flag, the value, one indicator per category known from a
  separate no-change sample of 1,000 events plus one for "unseen", or for text the share of the
  event's tokens not in that sample's vocabulary); an alarm is ``drift_detected`` (any of the
  indicators for categories). River is then re-run with a grid of stricter thresholds (ADWIN
  ``delta``, PageHinkley ``threshold``) to find the most sensitive setting whose null false-alarm
  rate is at most postwatch's (matched false-alarm rate).
* **Evidently**: per window, the column's default stattest chosen by Evidently's own
  ``get_stattest(reference, current, column_type, None)`` (legacy registry used by
  ``DataDriftPreset``: numeric KS p < 0.05 for a reference of <= 1000 rows, else normed
  Wasserstein > 0.1; categorical chi-square / z-test p < 0.05 for <= 1000 rows, else
  Jensen-Shannon > 0.1; text: domain-classifier text content drift), called directly on pandas
  Series of the raw events. Its reference is the raw events of the same trailing blocks
  (12 windows x 8), with its own drifted windows kept out.

Reported per scenario and window size: median detection delay over seeds in events after
``c`` and in windows (window containing ``c`` = 1), detections within the horizon of 24
windows after the change, false alarms per 100k events on the null stretch, and updates/s
(events processed per second of each detector's own processing time, in this run, as a ratio to
postwatch). Dataset text is never printed.

    /tmp/benchvenv/bin/python bench/detection.py --seeds 5
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import statistics
import sys
import time
import warnings
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from detectors.judge import JudgeConfig, JudgeItem, interim_judge, judge, look_number
from detectors.reference import ReferenceState
from detectors.scan import TailScan, scan_tests
from detectors.summary import WindowSummary

warnings.filterwarnings("ignore")

DATA = Path(os.environ.get("POSTWATCH_SHARED_DATA",
                           Path(__file__).resolve().parents[2] / "shared" / "data"))
WINDOWS = (50, 200, 1000)
PRE_WINDOWS = 24          # windows before the change (reference full after 12)
POST_WINDOWS = 24         # detection horizon after the change, in windows
BLOCK_WINDOWS, BLOCKS = 12, 8
# separate no-change events whose categories / vocabulary define River's inputs
RIVER_WARMUP = 1000
# most sensitive first; the defaults (ADWIN delta 0.002, PageHinkley threshold 50) are included
ADWIN_GRID = (0.3, 0.1, 0.03, 0.01, 0.002, 1e-4, 1e-6, 1e-10)
PH_GRID = (5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 800.0, 3200.0, 12800.0, 51200.0)
TEXT_EVIDENTLY_MAX_NULL_WINDOWS = 30   # Evidently's text test trains a classifier per window


# ---------------------------------------------------------------------------- scenarios

@dataclass(frozen=True)
class Scenario:
    name: str
    kind: str  # flag | numeric | cat | text
    gen: Callable[[np.random.Generator, int, bool], list]  # rng, n, changed -> events


def _bern(p0: float, p1: float):
    def gen(rng, n, changed):
        return (rng.random(n) < (p1 if changed else p0)).tolist()
    return gen


def _normal(rng, n, changed):
    return rng.normal(0.5 if changed else 0.0, 1.0, n).tolist()


_CATS = np.array(["a", "b", "c", "d", "e", "new"])
_CAT_P0 = np.array([0.40, 0.25, 0.15, 0.12, 0.08, 0.0])
_CAT_P1 = np.append(_CAT_P0[:5] * 0.8, 0.2)


def _category(rng, n, changed):
    return _CATS[rng.choice(6, n, p=_CAT_P1 if changed else _CAT_P0)].tolist()


_VOCAB = 5000
_ZIPF_P = 1.0 / np.arange(1, _VOCAB + 1)
_ZIPF_P /= _ZIPF_P.sum()


def _text(rng, n, changed):
    lengths = rng.integers(8, 21, n)
    toks = rng.choice(_VOCAB, int(lengths.sum()), p=_ZIPF_P)
    new = (rng.random(n) < 0.3) if changed else np.zeros(n, bool)
    out, i = [], 0
    for k, is_new in zip(lengths.tolist(), new.tolist(), strict=True):
        prefix = "v" if is_new else "w"
        out.append(" ".join(f"{prefix}{t}" for t in toks[i:i + k].tolist()))
        i += k
    return out


_POOLS: dict[str, list] = {}


def _pools() -> dict[str, list]:
    """Per-item numbers from ../shared/data (flags and lengths only; no text is kept)."""
    if not _POOLS:
        from detectors.jailbreak import is_jailbreak
        from detectors.refusal import is_refusal
        with open(DATA / "xstest_v2_model_completions_labeled.csv", newline="") as f:
            rows = list(csv.DictReader(f))
        for model in ("gpt4", "llama2orig"):
            comp = [r["completion"] for r in rows if r["model_config"] == model]
            _POOLS[f"refusal:{model}"] = [is_refusal(c) for c in comp]
            _POOLS[f"length:{model}"] = [float(len(c)) for c in comp]
        with open(DATA / "arena_hard_v0.1_answers_gpt35_gpt4.jsonl") as f:
            arena = list({(r := json.loads(line))["uid"]: r["prompt"] for line in f}.values())
        _POOLS["jailbreak:arena"] = [is_jailbreak(p) for p in arena]
        with open(DATA / "jailbreakbench_attack_artifacts.jsonl") as f:
            jbb = [r["prompt"] for line in f if (r := json.loads(line))["prompt"]]
        _POOLS["jailbreak:jbb"] = [is_jailbreak(p) for p in jbb]
    return _POOLS


def _resample(before: str, after: str, mix: float = 1.0):
    def gen(rng, n, changed):
        pools = _pools()
        a = np.asarray(pools[before])
        out = a[rng.integers(0, len(a), n)]
        if changed:
            b = np.asarray(pools[after])
            take = rng.random(n) < mix
            out[take] = b[rng.integers(0, len(b), int(take.sum()))]
        return out.tolist()
    return gen


SYNTHETIC = (
    Scenario("rate 5% -> 15% (Bernoulli)", "flag", _bern(0.05, 0.15)),
    Scenario("mean shift N(0,1) -> N(0.5,1)", "numeric", _normal),
    Scenario("new category at 20%", "cat", _category),
    Scenario("new vocabulary in 30% of texts", "text", _text),
)
REAL = (
    Scenario("refusal flag, XSTest gpt4 -> llama2orig completions", "flag",
             _resample("refusal:gpt4", "refusal:llama2orig")),
    Scenario("jailbreak flag, Arena-Hard prompts + 30% JailbreakBench", "flag",
             _resample("jailbreak:arena", "jailbreak:jbb", 0.3)),
    Scenario("output length (chars), XSTest gpt4 -> llama2orig", "numeric",
             _resample("length:gpt4", "length:llama2orig")),
)
SCENARIOS = SYNTHETIC + REAL


# ---------------------------------------------------------------------------- detectors

def _add(summary: WindowSummary, kind: str, e) -> None:
    if kind == "flag":
        summary.add({"flag": bool(e)}, {}, {}, None)
    elif kind == "numeric":
        summary.add({}, {"x": float(e)}, {}, None)
    elif kind == "cat":
        summary.add({}, {}, {"cat": e}, None)
    else:
        summary.add({}, {}, {}, e)


def _scan_view(kind: str, e) -> tuple[dict, dict, dict]:
    if kind == "flag":
        return {"flag": bool(e)}, {}, {}
    if kind == "cat":
        return {}, {}, {"cat": e}
    return {}, {"x": float(e)}, {}


def run_postwatch(events: list, kind: str, w: int, interim: bool = True
                  ) -> tuple[list[int], int, float]:
    """Alarm positions (the event at which a window first had a finding: the tail scan at a
    chunk of 32 events, for rates, numeric values and categories, an interim look at ``32 * 2**j``
    events, else its close), windows judged, seconds. As in the pipeline, only a finding at
    the close keeps a window out of the reference. ``interim=False``: close only."""
    cfg = JudgeConfig()
    ref = ReferenceState(BLOCK_WINDOWS, BLOCKS)
    cache_key, cache = None, None
    alarms, judged = [], 0
    scan = TailScan() if interim and kind != "text" else None
    t0 = time.perf_counter()
    for start in range(0, len(events) - w + 1, w):
        key = (len(ref.full), id(ref.full[-1]) if ref.full else None)
        if key != cache_key:  # the reference only moves when a block completes
            cache_key, cache = key, ref.reference()
        s = WindowSummary()
        alarm = None
        for i, e in enumerate(events[start:start + w], 1):
            _add(s, kind, e)
            if scan is not None and scan.add(*_scan_view(kind, e)) and alarm is None and any(
                    v.finding for v in scan_tests(scan, cache, cfg)):
                alarm = start + i
            look = look_number(i) if interim and i < w and alarm is None else None
            if look is not None and any(
                    v.finding for v in interim_judge(
                        [JudgeItem(("bench", "*", "*"), start, s, cache, None)], cfg, look)):
                alarm = start + i
        verdicts = judge([JudgeItem(("bench", "*", "*"), start, s, cache, None)], cfg)
        judged += bool(verdicts)
        found = any(v.finding for v in verdicts)
        if found and alarm is None:
            alarm = start + w
        if alarm is not None:
            alarms.append(alarm)
        if not found:
            ref.add_window(s)
    return alarms, judged, time.perf_counter() - t0


class _RawReference:
    """Same block structure as ReferenceState, over raw events (for Evidently)."""

    def __init__(self) -> None:
        self.full: list[list] = []
        self.current: list = []
        self.filled = 0

    def add_window(self, events: list) -> None:
        self.current.extend(events)
        self.filled += 1
        if self.filled == BLOCK_WINDOWS:
            self.full.append(self.current)
            del self.full[:-BLOCKS]
            self.current, self.filled = [], 0

    def reference(self) -> list | None:
        return [e for block in self.full for e in block] if self.full else None


def run_evidently(events: list, kind: str, w: int, max_windows: int | None = None,
                  stop_after: int | None = None, min_ref_rows: int = 0,
                  ) -> tuple[list[int], int, float, int]:
    """Alarm positions of Evidently's default per-column rule, windows tested, seconds, events
    processed.

    Stops after ``max_windows`` tested windows, or at the first alarm after event
    ``stop_after`` (a delay run needs no more). Windows whose reference has at most
    ``min_ref_rows`` rows are not tested (they still feed the reference).
    """
    import pandas as pd
    from evidently.legacy.calculations.stattests.registry import get_stattest
    from evidently.legacy.core import ColumnType

    ctype = {"flag": ColumnType.Categorical, "numeric": ColumnType.Numerical,
             "cat": ColumnType.Categorical, "text": ColumnType.Text}[kind]
    conv = (lambda xs: [int(x) for x in xs]) if kind == "flag" else (lambda xs: xs)
    ref = _RawReference()
    cache_key, cache = None, None
    alarms, judged, processed = [], 0, 0
    t0 = time.perf_counter()
    for start in range(0, len(events) - w + 1, w):
        if max_windows is not None and judged >= max_windows:
            break
        processed += w
        cur_events = events[start:start + w]
        drifted = False
        if ref.full and sum(map(len, ref.full)) > min_ref_rows:
            key = (len(ref.full), id(ref.full[-1]))
            if key != cache_key:
                cache_key, cache = key, pd.Series(conv(ref.reference()))
            cur = pd.Series(conv(cur_events))
            test = get_stattest(cache, cur, ctype, None)
            drifted = bool(test(cache, cur, ctype, None).drifted)
            judged += 1
        if drifted:
            alarms.append(start + w)
            if stop_after is not None and start + w > stop_after:
                break
        else:
            ref.add_window(cur_events)
    return alarms, judged, time.perf_counter() - t0, processed


def river_inputs(events: list, kind: str, warmup: list) -> np.ndarray:
    """Univariate views (n x k) of the events for River's detectors."""
    if kind in ("flag", "numeric"):
        return np.asarray(events, dtype=float)[:, None]
    if kind == "cat":
        known = sorted(set(warmup))
        idx = {c: i for i, c in enumerate(known)}
        out = np.zeros((len(events), len(known) + 1))
        out[np.arange(len(events)), [idx.get(e, len(known)) for e in events]] = 1.0
        return out
    vocab = {t for text in warmup for t in text.split()}
    out = np.empty((len(events), 1))
    for i, text in enumerate(events):
        toks = text.split()
        out[i, 0] = sum(t not in vocab for t in toks) / len(toks)
    return out


def run_river(x: np.ndarray, make: Callable) -> tuple[list[int], float]:
    """Alarm positions (index + 1 of the event that raised a drift), seconds."""
    from river.drift import ADWIN, PageHinkley  # noqa: F401  (imported for timing fairness)

    dets = [make() for _ in range(x.shape[1])]
    alarms = []
    cols = [x[:, j].tolist() for j in range(x.shape[1])]
    t0 = time.perf_counter()
    for i in range(x.shape[0]):
        hit = False
        for d, col in zip(dets, cols, strict=True):
            d.update(col[i])
            hit |= d.drift_detected
        if hit:
            alarms.append(i + 1)
    return alarms, time.perf_counter() - t0


# ---------------------------------------------------------------------------- one task

def _river_makers():
    from river.drift import ADWIN, PageHinkley
    out = {f"ADWIN d={d:g}": (lambda d=d: ADWIN(delta=d)) for d in ADWIN_GRID}
    out |= {f"PageHinkley thr={t:g}": (lambda t=t: PageHinkley(threshold=t)) for t in PH_GRID}
    return out


def _first_after(alarms: Sequence[int], c: int, horizon_end: int) -> float:
    for a in alarms:
        if c < a <= horizon_end:
            return float(a - c)
    return math.inf


def run_task(args: tuple[int, int, int, bool]) -> dict:
    """One scenario x one seed: delays at each window size and null false alarms."""
    si, seed, null_n, quick = args
    sc = SCENARIOS[si]
    rng = np.random.default_rng([seed, si])
    makers = _river_makers()
    # Evidently's small-reference text test bootstraps 1,000 classifier AUCs (~4 s a window):
    # for text, only windows whose reference has more than 1,000 rows are tested by Evidently
    min_ref = 1000 if sc.kind == "text" else 0
    res: dict = {"delay": {}, "fa": {}, "events": {}, "secs": {}, "judged": {}}

    # River's categories / vocabulary come from a separate no-change sample, so the stream's
    # first events are not special
    warmup = sc.gen(rng, RIVER_WARMUP, False)

    def account(det, n, secs):
        res["events"][det] = res["events"].get(det, 0) + n
        res["secs"][det] = res["secs"].get(det, 0.0) + secs

    for w in WINDOWS:
        c = PRE_WINDOWS * w + int(rng.integers(0, w))
        end = (PRE_WINDOWS + POST_WINDOWS + 1) * w
        events = sc.gen(rng, c, False) + sc.gen(rng, end - c, True)
        horizon = c + POST_WINDOWS * w
        alarms, _, secs = run_postwatch(events, sc.kind, w)
        res["delay"][("postwatch", w)] = _first_after(alarms, c, horizon)
        account("postwatch", len(events), secs)
        alarms, _, secs, done = run_evidently(events, sc.kind, w, stop_after=c,
                                              min_ref_rows=min_ref)
        res["delay"][("Evidently", w)] = _first_after(alarms, c, horizon)
        account("Evidently", done, secs)
        x = river_inputs(events, sc.kind, warmup)
        for name, make in makers.items():
            alarms, secs = run_river(x, make)
            res["delay"][(name, w)] = _first_after(alarms, c, horizon)
            if name in ("ADWIN d=0.002", "PageHinkley thr=50"):
                account(name.split()[0], len(events), secs)

    null = sc.gen(rng, null_n, False)
    x = river_inputs(null, sc.kind, warmup)
    for name, make in makers.items():
        alarms, secs = run_river(x, make)
        res["fa"][name] = (len(alarms), null_n)
        if name in ("ADWIN d=0.002", "PageHinkley thr=50"):
            account(name.split()[0], null_n, secs)
    for w in WINDOWS:
        alarms, judged, secs = run_postwatch(null, sc.kind, w)
        res["fa"][("postwatch", w)] = (len(alarms), judged * w)
        account("postwatch", len(null), secs)
        cap = TEXT_EVIDENTLY_MAX_NULL_WINDOWS if sc.kind == "text" else None
        if quick and cap:
            cap //= 3
        alarms, judged, secs, done = run_evidently(null, sc.kind, w, max_windows=cap,
                                                   min_ref_rows=min_ref)
        res["fa"][("Evidently", w)] = (len(alarms), judged * w)
        account("Evidently", done, secs)
    return res


# ---------------------------------------------------------------------------- report

def _median(xs: list[float]) -> float:
    return statistics.median(xs) if xs else math.nan


def _fmt_delay(d: float, w: int, horizon: int) -> tuple[str, str]:
    if math.isinf(d):
        return f"> {horizon * w}", f"> {horizon}"
    return f"{d:.0f}", f"{math.ceil(d / w)}"


def _fa_rate(pairs: list[tuple[int, int]]) -> tuple[float, int, int]:
    alarms = sum(a for a, _ in pairs)
    n = sum(n for _, n in pairs)
    return (1e5 * alarms / n if n else math.nan), alarms, n


def report(si: int, runs: list[dict], cmd: str) -> None:
    sc = SCENARIOS[si]
    n_seeds = len(runs)
    ev = {k: sum(r["events"][k] for r in runs) for k in runs[0]["events"]}
    sec = {k: sum(r["secs"][k] for r in runs) for k in runs[0]["secs"]}
    ups = {k: ev[k] / sec[k] for k in ev}
    base = ups["postwatch"]
    print(f"### {sc.name}")
    print()
    print(f"{n_seeds} seeds; change at a random event of window {PRE_WINDOWS + 1}, horizon "
          f"{POST_WINDOWS} windows; null stretch {runs[0]['fa']['ADWIN d=0.002'][1]:,} events "
          "per seed; delays are medians over seeds ('> H' = not found within the horizon).")
    print()
    print("| detector | window w | delay (events) | delay (windows) | found | "
          "null FA /100k | null alarms / events | updates/s | vs postwatch |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    rows = [("postwatch", "postwatch", "postwatch"), ("River ADWIN (default)", "ADWIN d=0.002",
            "ADWIN"), ("River PageHinkley (default)", "PageHinkley thr=50", "PageHinkley"),
            ("Evidently default rule", "Evidently", "Evidently")]
    pw_fa = {}
    for w in WINDOWS:
        for label, key, tkey in rows:
            ds = [r["delay"][(key, w)] for r in runs]
            d = _median(ds)
            found = sum(not math.isinf(x) for x in ds)
            fkey = (key, w) if key in ("postwatch", "Evidently") else key
            rate, a, n = _fa_rate([r["fa"][fkey] for r in runs])
            if key == "postwatch":
                pw_fa[w] = rate
            de, dw = _fmt_delay(d, w, POST_WINDOWS)
            note = " (sampled)" if key == "Evidently" and sc.kind == "text" else ""
            print(f"| {label} | {w} | {de} | {dw} | {found}/{n_seeds} | {rate:.1f} | "
                  f"{a} / {n:,}{note} | {ups[tkey]:,.0f} | {ups[tkey] / base:.2f}x |")
    print()
    print("Matched false-alarm rate: River's most sensitive grid setting whose pooled null "
          "FA/100k is <= postwatch's at that window size (grids: ADWIN delta "
          f"{', '.join(f'{d:g}' for d in ADWIN_GRID)}; PageHinkley threshold "
          f"{', '.join(f'{t:g}' for t in PH_GRID)}).")
    print()
    print("| window w | postwatch FA/100k | postwatch delay (events) | River detector "
          "(setting) | its FA/100k | its delay (events) | found | postwatch earlier? |")
    print("|---:|---:|---:|---|---:|---:|---:|---|")
    grid_fa = {name: _fa_rate([r["fa"][name] for r in runs])[0] for name in runs[0]["fa"]
               if isinstance(name, str)}
    for w in WINDOWS:
        pd_ = _median([r["delay"][("postwatch", w)] for r in runs])
        for fam, grid in (("ADWIN", [f"ADWIN d={d:g}" for d in ADWIN_GRID]),
                          ("PageHinkley", [f"PageHinkley thr={t:g}" for t in PH_GRID])):
            ok = [g for g in grid if grid_fa[g] <= pw_fa[w] + 1e-12]
            if not ok:
                best = min(reversed(grid), key=lambda g: grid_fa[g])
                print(f"| {w} | {pw_fa[w]:.1f} | {_fmt_delay(pd_, w, POST_WINDOWS)[0]} | "
                      f"{fam}: none matched (strictest {best.split()[1]}) | "
                      f"{grid_fa[best]:.1f} | - | - | - |")
                continue
            g = ok[0]
            ds = [r["delay"][(g, w)] for r in runs]
            d = _median(ds)
            found = sum(not math.isinf(x) for x in ds)
            verdict = ("tie" if d == pd_ else "River" if d < pd_ else "postwatch")
            verdict = {"tie": "same", "River": "no, River earlier",
                       "postwatch": "yes"}[verdict]
            print(f"| {w} | {pw_fa[w]:.1f} | {_fmt_delay(pd_, w, POST_WINDOWS)[0]} | "
                  f"{fam} ({g.split()[1]}) | {grid_fa[g]:.1f} | "
                  f"{_fmt_delay(d, w, POST_WINDOWS)[0]} | {found}/{n_seeds} | {verdict} |")
    print()
    print(f"Reproduce: `{cmd}`")
    print()


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--first-seed", type=int, default=0)
    ap.add_argument("--null-events", type=int, default=100_000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--quick", action="store_true",
                    help="2 seeds, 20,000-event null stretches (under a minute)")
    ap.add_argument("--only", type=str, default="",
                    help="comma-separated scenario indices (0-based) to run")
    a = ap.parse_args(argv)
    if a.quick:
        a.seeds, a.null_events = min(a.seeds, 2), min(a.null_events, 20_000)
    only = [int(s) for s in a.only.split(",") if s] or list(range(len(SCENARIOS)))
    cmd = (f"{Path(sys.executable)} bench/detection.py --seeds {a.seeds} --first-seed "
           f"{a.first_seed} --null-events {a.null_events}")
    if a.only:
        cmd += f" --only {a.only}"
    seeds = range(a.first_seed, a.first_seed + a.seeds)
    jobs = [(si, s, a.null_events, a.quick) for si in only for s in seeds]
    # longest jobs first (text, categorical) so the pool stays busy
    order = {"text": 0, "cat": 1, "numeric": 2, "flag": 3}
    jobs.sort(key=lambda j: order[SCENARIOS[j[0]].kind])
    t0 = time.perf_counter()
    if any(SCENARIOS[si] in REAL for si in only):
        _pools()  # compute dataset flags once, before forking
    with ProcessPoolExecutor(a.workers) as pool:
        results = list(pool.map(run_task, jobs))
    by: dict[int, list[dict]] = {}
    for (si, _, _, _), r in zip(jobs, results, strict=True):
        by.setdefault(si, []).append(r)
    import evidently
    import river
    print(f"## Detection benchmark: postwatch vs River {river.__version__} vs Evidently "
          f"{evidently.__version__} (Python {sys.version.split()[0]}, {a.workers} workers)")
    print()
    print("Evidently: default stattest per column from its legacy registry "
          "(`get_stattest(..., stattest_func=None)`, as DataDriftPreset picks it), called per "
          "window on pandas Series, stopping at its first alarm after the change. Text scenario: "
          "Evidently tests only windows whose reference has > 1,000 rows (its bootstrap "
          "text test for smaller references takes ~4 s a window; the change always comes "
          "after that), and its null FA is from the first "
          f"{TEXT_EVIDENTLY_MAX_NULL_WINDOWS // (3 if a.quick else 1)} tested windows per "
          "window size only.")
    print()
    for si in only:
        report(si, by[si], cmd)
    print(f"Total wall time: {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
