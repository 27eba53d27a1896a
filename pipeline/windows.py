"""Per-partition window state: the pure core of the worker (no Faust, no Kafka I/O).

A worker hands :meth:`Processor.process` the messages of one source partition in offset
order. The state lives in a key/value store (a Faust table in production, a dict in tests)
under three kinds of key, all on the source partition:

* ``meta`` (one per partition): applied offset, and per deployment context its watermark,
  closing frontier, segments with open windows, tracked cohorts/models, risk tier and last
  arrival (dead-man); counters;
* ``seg`` (one per segment): open windows (exact counts plus a
  :class:`~detectors.summary.WindowSummary`), the bounded trailing reference, an optional
  frozen baseline and hour-of-week slots, anomaly baselines, alert lifecycles, and the source
  offset up to which this value already includes every event of the segment;
* ``dedup`` (one per partition and 5 minutes of arrival time): event ids seen, with the
  offset at which each was first applied;
* ``journal`` (one per partition): the last source offset whose outputs have been published,
  and the Benjamini–Hochberg decision of every watermark step of the batches not yet covered
  by a written meta (see below).

Exactly-once effect: every value carries the source offset it has applied, written in the same
value as the aggregates, so a replay after a crash skips what each value already holds, even
when only some of a batch's writes reached the changelog. Windows close when the context's
watermark passes ``window end + allowed lateness`` (checked after every event, so the result
does not depend on batch boundaries) or when an idle tick for a silent partition says so;
closed windows are judged together (:func:`detectors.judge.judge`).

A crash can persist any prefix of a batch's writes (the changelog keeps their order), so the
order is chosen to make every prefix replay to the uninterrupted result:

1. the ``journal``. A watermark step (one context, one closing frontier) judges the windows of
   all its segments as one Benjamini–Hochberg family; after a partial write, the replay closes
   only the windows of the segments whose state was not written, a smaller family with other
   decisions. The journal records each step's decision as the largest rejected p-value (BH
   rejects exactly the p-values at or below it), and a replayed step applies that threshold
   to its tests instead of running BH on the partial family. It also records the offset up to
   which the batch's outputs were published (the worker publishes them before it writes
   state), and a replay does not publish them again: no duplicate alert;
2. dedup buckets;
3. segments, model level first, then cohort, then context: a segment's reference may be its
   parent's, so a written parent implies written children, and a replayed segment reads its
   ancestors as they were when the step ran;
4. the partition's meta, last: a written meta implies everything else of the batch.
"""

from __future__ import annotations

import base64
import dataclasses
import functools
import hashlib
import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from aiokafka.partitioner import murmur2

import detectors
from detectors.anomaly import AnomalyResult, MultivariateIsolation, RobustBaseline
from detectors.drift import DriftTest
from detectors.evaluate import evaluate
from detectors.judge import (
    DEFAULT_MIN_EFFECT,
    JudgeConfig,
    JudgeItem,
    base_metric,
    effect_reaches,
    interim_judge,
    judge,
    look_number,
)
from detectors.pii import redact
from detectors.reference import ReferenceState
from detectors.scan import TailScan, scan_tests
from detectors.summary import WindowSummary, hashed_features
from detectors.textclf import TextClassifier
from detectors.textclf import load as load_classifier
from pipeline import alerting
from pipeline.config import Config
from pipeline.validate import Interaction, Rejection, check_time, decode

log = logging.getLogger("postwatch.worker")

ALL = "*"
OTHER = "__other__"
SEP = "\x1f"
FLAGS = ("refusal", "jailbreak", "pii_input", "pii_output", "error", "harmful_output",
         "harmful_request", "over_refusal", "jailbreak_success")
RATE_METRICS = {f"{flag}_rate": flag for flag in FLAGS}
CRITICAL_METRICS = ("pii_output_rate", "jailbreak_rate", "harmful_output_rate",
                    "jailbreak_success_rate")
SAMPLE_IDS = 5
MAX_CATEGORY_CHARS = 100  # free-form attribute values end up in every summary and reference
MULTIVARIATE_MIN_WINDOWS = 200  # an empirical p below q/m needs a long calibration history
MULTIVARIATE_MAX_WINDOWS = 400
CONTROL_HEADER = "postwatch-control"
DEDUP_BUCKET_MS = 5 * 60_000

Segment = tuple[str, str, str]


@dataclass(frozen=True, slots=True)
class Message:
    """One input message. ``timestamp_ms`` is the Kafka message timestamp (the producer's
    clock, stored in the log, so a replay sees the same value); ``control`` is the value of
    the ``postwatch-control`` header, if any."""

    offset: int
    value: bytes
    timestamp_ms: int | None = None
    control: bytes | None = None


@dataclass
class Outputs:
    dead_letters: list[dict[str, Any]] = field(default_factory=list)
    evaluated: list[dict[str, Any]] = field(default_factory=list)
    windows: list[dict[str, Any]] = field(default_factory=list)
    drift: list[dict[str, Any]] = field(default_factory=list)
    alerts: list[dict[str, Any]] = field(default_factory=list)
    reroute: list[tuple[bytes, bytes, int]] = field(default_factory=list)  # key, value, partition


def meta_key(partition: int) -> str:
    return f"meta{SEP}{partition}"


def seg_key(seg: Segment) -> str:
    return "seg" + SEP + SEP.join(seg)


def dedup_key(partition: int, bucket: int) -> str:
    return f"dedup{SEP}{partition}{SEP}{bucket}"


def journal_key(partition: int) -> str:
    return f"journal{SEP}{partition}"


def new_journal() -> dict[str, Any]:
    # steps: "<context>\x1f<frontier>" -> [offset of the message that ran it, BH threshold]
    return {"through": -1, "steps": {}}


_LEVEL_ORDER = {"model": 0, "cohort": 1, "context": 2}


def write_order(key: str) -> tuple[int, int]:
    """Sort key of a state write (see the module docstring): journal, dedup, segments from
    the model level up, meta."""
    if key.startswith("journal" + SEP):
        return (0, 0)
    if key.startswith("seg" + SEP):
        seg: Segment = tuple(key.split(SEP)[1:])  # type: ignore[assignment]
        return (2, _LEVEL_ORDER[level_of(seg)])
    if key.startswith("meta" + SEP):
        return (3, 0)
    return (1, 0)


def partition_for(context: str, partitions: int) -> int:
    """The partition a producer keying by ``context`` with murmur2 (Java/Faust) writes to."""
    return (murmur2(context.encode()) & 0x7FFFFFFF) % partitions


def level_of(seg: Segment) -> str:
    return "context" if seg[1] == ALL else ("cohort" if seg[2] == ALL else "model")


def parent_of(seg: Segment) -> Segment | None:
    ctx, cohort, model = seg
    if model != ALL:
        return (ctx, cohort, ALL)
    if cohort != ALL:
        return (ctx, ALL, ALL)
    return None


def segments_for(ctx: str, cohort: str, model: str) -> tuple[Segment, Segment, Segment]:
    return ((ctx, ALL, ALL), (ctx, cohort, ALL), (ctx, cohort, model))


def new_meta() -> dict[str, Any]:
    return {
        "applied": -1,
        "last_data_offset": -1,
        "contexts": {},  # context -> {"wm", "closed", "open": [seg keys], cohorts, models, risk}
        "dedup_buckets": [],
        "counts": {"valid": 0, "dead": 0, "duplicate": 0, "late": 0, "overflow": 0,
                   "rerouted": 0},
    }


OUTPUT_MODEL_FILE = "evaluators/harmful_output.json"


def user_output_model(state_dir: str) -> TextClassifier | None:
    """The harmful-output model trained by `postwatch evaluator train`, if there is one in
    the state directory (never from the repository)."""
    path = Path(state_dir) / OUTPUT_MODEL_FILE
    try:
        stamp = path.stat().st_mtime_ns
    except FileNotFoundError:
        return None
    return _load_model(str(path), stamp)


@functools.lru_cache(maxsize=4)
def _load_model(path: str, _stamp: int) -> TextClassifier | None:
    """The model, or None (with one warning per file version) when the file cannot be read:
    a broken model must not stop monitoring, the built-in score takes over."""
    try:
        return load_classifier(path)
    except (OSError, ValueError) as e:
        log.warning("ignoring the harmful-output model %s (%s); using the built-in score",
                    path, str(e)[:200])
        return None


def new_context() -> dict[str, Any]:
    return {"wm": None, "closed": None, "open": [], "cohorts": [], "models": [], "risk": None}


def new_segment() -> dict[str, Any]:
    return {"applied": -1, "windows": {}, "late_pending": 0, "alerts": {}}


def new_agg(ts: int) -> dict[str, Any]:
    agg: dict[str, Any] = {f: 0 for f in FLAGS}
    agg.update(
        n=0, in_chars=0, out_chars=0, in_tokens=0, out_tokens=0,
        lat_sum=0.0, lat_n=0, lat_max=0.0, first=ts, last=ts, overflow=0,
        samples={f: [] for f in (*FLAGS, "any")}, summary=WindowSummary(),
    )
    return agg


def _obj(holder: dict[str, Any], key: str, cls: Any) -> Any:
    """A sketch-bearing value of the state: decoded from its stored form on first use."""
    value = holder.get(key)
    if isinstance(value, dict) and "$b" in value:
        value = holder[key] = cls.from_bytes(base64.b64decode(value["$b"]))
    return value


def _encode_default(obj: Any) -> Any:
    if isinstance(obj, WindowSummary | ReferenceState):
        return {"$b": base64.b64encode(obj.to_bytes()).decode()}
    if isinstance(obj, TailScan):
        return obj.to_dict()
    raise TypeError(f"cannot encode {type(obj).__name__}")


def encode_state(value: Any) -> bytes:
    """State value -> bytes for the table (summaries and references as base64)."""
    return orjson.dumps(value, default=_encode_default)


WEEK_MS = 7 * 86_400_000


def hour_of_week(ts_ms: int) -> int:
    """0..167, Monday 00:00 UTC = 0 (the epoch was a Thursday)."""
    return int((ts_ms // 3_600_000 + 3 * 24) % 168)


def window_series(summary: WindowSummary) -> dict[str, float]:
    """The per-window values whose series the anomaly detectors watch. Rates are left to the
    exact two-proportion tests: a median/MAD baseline of a rare rate is all zeros, and one
    event would look infinitely anomalous."""
    out = {"events": float(summary.n)}
    for name in ("latency_ms", "output_tokens"):
        sketch = summary.numeric.get(name)
        if sketch is not None and sketch.n:
            out[f"{name}_p50"] = float(sketch.quantile(0.5))
    return out


def _add(agg: dict[str, Any], ev: Interaction, flags: Mapping[str, bool], chars: tuple[int, int],
         overflow: bool, measures: tuple[Any, ...]) -> None:
    summary = _obj(agg, "summary", WindowSummary)
    numeric, categorical, features = measures
    summary.add(flags, numeric, categorical, None, features=features)
    if len(agg["samples"]["any"]) < SAMPLE_IDS:
        agg["samples"]["any"].append(ev.event_id)
    agg["n"] += 1
    for f in FLAGS:
        if flags[f]:
            agg[f] += 1
            if len(agg["samples"][f]) < SAMPLE_IDS:
                agg["samples"][f].append(ev.event_id)
    agg["in_chars"] += chars[0]
    agg["out_chars"] += chars[1]
    agg["in_tokens"] += ev.input_tokens or 0
    agg["out_tokens"] += ev.output_tokens or 0
    if ev.latency_ms is not None:
        agg["lat_sum"] += ev.latency_ms
        agg["lat_n"] += 1
        agg["lat_max"] = max(agg["lat_max"], ev.latency_ms)
    agg["first"] = min(agg["first"], ev.ts_ms)
    agg["last"] = max(agg["last"], ev.ts_ms)
    agg["overflow"] += int(overflow)


def stable_id(*parts: Any) -> str:
    return hashlib.sha256(orjson.dumps(parts)).hexdigest()[:32]


def clean_label(value: str) -> str:
    """Identifiers (cohort, model, ...) are stored and used as segment keys: no personal data
    in them either."""
    return redact(value)


class Processor:
    """Applies one partition's messages to the state store and collects the outputs.

    ``get(key)`` returns a stored value or ``None``; after :meth:`process` the dirty values
    are in :attr:`writes` (key -> value, ``None`` = delete), in the order they must be
    written: after the returned outputs have been delivered, and before the source offsets
    are acknowledged. ``cache`` may be shared across calls by the owner of the
    partition (decoded values, kept in step with the writes).
    """

    def __init__(self, config: Config, partition: int, get: Callable[[str], Any],
                 cache: dict[str, Any] | None = None) -> None:
        self.cfg = config
        self.partition = partition
        self._get = get
        self._cache: dict[str, Any] = {} if cache is None else cache
        self.writes: dict[str, Any] = {}
        self.out = Outputs()
        self.output_model = user_output_model(config.state_dir)
        # what the messages whose outputs were published before a crash produce again: not
        # to be published (kept for inspection; equal to what was published)
        self.suppressed = Outputs()
        self._journal: dict[str, Any] = new_journal()
        self._offset = -1  # of the message being applied

    # -- store access ----------------------------------------------------------------------
    def _load(self, key: str, factory: Callable[[], Any]) -> Any:
        if key not in self._cache:
            value = self._get(key)
            self._cache[key] = factory() if value is None else value
        return self._cache[key]

    def _dirty(self, key: str) -> None:
        self.writes[key] = self._cache[key]

    def _delete(self, key: str) -> None:
        self._cache.pop(key, None)
        self.writes[key] = None

    # -- main entry ------------------------------------------------------------------------
    def process(self, messages: Iterable[Message], now_ms: int) -> Outputs:
        mk = meta_key(self.partition)
        meta = self._load(mk, new_meta)
        jk = journal_key(self.partition)
        journal = self._journal = self._load(jk, new_journal)
        applied = meta["applied"]
        # a step at or below the meta's offset is never replayed (that meta was written
        # before this batch's journal, so it is in the changelog whenever the journal is)
        for step in [k for k, (offset, _) in journal["steps"].items() if offset <= applied]:
            del journal["steps"][step]
        published = journal["through"]
        outputs = self.out
        last = applied
        for msg in messages:
            last = max(last, msg.offset)
            fresh = msg.offset > applied
            self._offset = msg.offset
            # outputs of a batch whose journal was written are on their topics already
            self.out = self.suppressed if msg.offset <= published else outputs
            if msg.control is not None:
                self._control(meta, msg, fresh)
                continue
            self._event(meta, msg, fresh, now_ms if msg.timestamp_ms is None else msg.timestamp_ms)
        self.out = outputs
        if last > applied:
            meta["applied"] = last
            journal["through"] = max(published, last)
            self.writes[jk] = journal
            self.writes[mk] = meta
            for key, value in self.writes.items():
                if value is not None and key.startswith("seg" + SEP):
                    value["applied"] = max(value["applied"], last)
            # The changelog keeps the order of writes, so a crash leaves a prefix of them
            # (the order is explained in the module docstring).
            self.writes = dict(sorted(self.writes.items(), key=lambda kv: write_order(kv[0])))
        return self.out

    # -- one event -------------------------------------------------------------------------
    def _parse(self, meta: dict[str, Any], msg: Message, arrival_ms: int
               ) -> tuple[Interaction, Any] | Rejection:
        """Decode, validate, check time and evaluate; never raises for any input."""
        cfg = self.cfg
        try:
            result = decode(msg.value, cfg.max_event_bytes)
            if isinstance(result, Rejection):
                return result
            ctx = meta["contexts"].get(result.context)
            wm = ctx["wm"] if ctx and ctx["wm"] is not None else arrival_ms
            late_ref = max(wm, arrival_ms)
            rejected = check_time(result.ts_ms, late_ref, cfg.future_tolerance_seconds * 1000)
            if rejected is not None:
                return rejected
            result.cohort = clean_label(result.cohort)
            result.model = clean_label(result.model)
            result.model_version = clean_label(result.model_version)
            result.finish_reason = clean_label(result.finish_reason)
            result.scores = {clean_label(k): v for k, v in result.scores.items()}
            return result, evaluate(result.input_text, result.output_text,
                                    max_chars=cfg.max_eval_chars,
                                    output_model=self.output_model)
        except Exception as e:
            log.exception("processing error at %s@%s", self.partition, msg.offset)
            return Rejection("processing_error", f"{type(e).__name__}: {str(e)[:150]}")

    def _event(self, meta: dict[str, Any], msg: Message, fresh: bool, arrival_ms: int) -> None:
        cfg = self.cfg
        parsed = self._parse(meta, msg, arrival_ms)
        if isinstance(parsed, Rejection):
            if fresh:
                meta["counts"]["dead"] += 1
                self.out.dead_letters.append(self._dead_letter(msg, parsed))
            return
        ev, sig = parsed
        home = partition_for(ev.context, cfg.partitions)
        if home != self.partition:
            # keyed by something else than deployment_context: forward to the context's
            # partition (a replayed forward is a duplicate event_id there, counted once)
            if fresh:
                meta["counts"]["rerouted"] += 1
                self.out.reroute.append((ev.context.encode(), msg.value, home))
            return
        if self._is_duplicate(meta, ev.event_id, msg.offset, arrival_ms):
            if fresh:
                meta["counts"]["duplicate"] += 1
            return
        ctx = meta["contexts"].setdefault(ev.context, new_context())
        w = cfg.window_ms
        wstart = ev.ts_ms - ev.ts_ms % w
        late = ctx["closed"] is not None and wstart + w <= ctx["closed"]
        cohort, model, overflow = self._track(ctx, ev)
        flags = {
            "refusal": sig.refusal,
            "jailbreak": sig.jailbreak,
            "pii_input": sig.pii_input,
            "pii_output": sig.pii_output,
            "error": ev.finish_reason == "error",
            "harmful_output": sig.harmful_output,
            "harmful_request": sig.harmful_request,
            "over_refusal": bool(sig.over_refusal),
            # a harmful answer to a jailbreak attempt: the attack worked
            "jailbreak_success": sig.jailbreak and sig.harmful_output,
        }
        chars = (sig.input_chars, sig.output_chars)
        numeric = {
            "latency_ms": ev.latency_ms,
            "input_tokens": None if ev.input_tokens is None else float(ev.input_tokens),
            "output_tokens": None if ev.output_tokens is None else float(ev.output_tokens),
            "input_chars": float(sig.input_chars) if ev.input_text is not None else None,
            "output_chars": float(sig.output_chars) if ev.output_text is not None else None,
            **{f"score:{k}": float(v) for k, v in ev.scores.items()},
        }
        category = ev.raw.get("attributes", {}).get("category")
        categorical = {
            "finish_reason": ev.finish_reason or None,
            "category": clean_label(category)[:MAX_CATEGORY_CHARS]
            if isinstance(category, str) else None,
        }
        features = hashed_features(ev.input_text) if ev.input_text is not None else None
        open_set = set(ctx["open"])
        for seg in segments_for(ev.context, cohort, model):
            key = seg_key(seg)
            state = self._load(key, new_segment)
            if msg.offset <= state["applied"]:
                # written by a batch that crashed before its meta: the context still owns
                # the windows this value holds
                if state["windows"] and key not in open_set:
                    open_set.add(key)
                    ctx["open"].append(key)
                continue
            state.setdefault("born", wstart)
            if late:
                state["late_pending"] += 1
            else:
                agg = state["windows"].setdefault(str(wstart), new_agg(ev.ts_ms))
                cats = categorical if seg[2] != ALL else {**categorical, "model": model}
                _add(agg, ev, flags, chars, overflow and seg[1] == ALL,
                     (numeric, cats, features))
                if cfg.early_detection:
                    self._early(seg, state, agg, wstart, flags, numeric, cats, ctx)
                if key not in open_set:
                    open_set.add(key)
                    ctx["open"].append(key)
            self._dirty(key)
        if fresh:
            ctx["last_arrival"] = max(ctx.get("last_arrival") or 0, arrival_ms)
            if ctx.get("silent"):
                ctx["silent"] = False
                self._silence_alert(ev.context, ctx, arrival_ms, "resolved")
            counts = meta["counts"]
            counts["valid"] += 1
            counts["late"] += int(late)
            counts["overflow"] += int(overflow)
            meta["last_data_offset"] = msg.offset
            self.out.evaluated.append(self._evaluated(ev, msg, cohort, model, flags, sig, late))
        # The watermark follows event time, but never runs ahead of the producer's clock by
        # more than the allowed skew: one event stamped hours ahead cannot close the windows
        # that are still filling.
        bounded = min(ev.ts_ms, arrival_ms + cfg.max_clock_skew_seconds * 1000)
        if ctx["wm"] is None or bounded > ctx["wm"]:
            ctx["wm"] = bounded
            frontier = bounded - cfg.lateness_ms
            frontier -= frontier % w
            if ctx["closed"] is None or frontier > ctx["closed"]:
                ctx["closed"] = frontier
                self._close_due(ev.context, ctx, "watermark")
                self._check_silence(meta, arrival_ms)

    def _check_silence(self, meta: dict[str, Any], now_ms: int) -> None:
        """Dead-man: a context that sent nothing for ``silence_timeout_seconds`` (by the
        producers' clock, as stamped in the log) raises an alert once, resolved by its next
        event."""
        timeout = self.cfg.silence_timeout_seconds * 1000
        if timeout <= 0:
            return
        for name, ctx in meta["contexts"].items():
            last = ctx.get("last_arrival")
            if last is not None and not ctx.get("silent") and now_ms - last >= timeout:
                ctx["silent"] = True
                self._silence_alert(name, ctx, now_ms, "firing")

    def _silence_alert(self, name: str, ctx: dict[str, Any], now_ms: int, status: str) -> None:
        silent_s = (now_ms - ctx["last_arrival"]) / 1000
        t = DriftTest("silence", "volume", "dead_man", silent_s, 0.0 if status == "firing" else 1.0,
                      silent_s, "silent_seconds", 0, 0, silent_s,
                      float(self.cfg.silence_timeout_seconds))
        w = self.cfg.window_ms
        start = now_ms - now_ms % w
        row = {"window_start": start, "window_end": start + w, "level": "context",
               "_samples": {"any": []}}
        self.out.alerts.append(self._alert((name, ALL, ALL), row, t, (name, ALL, ALL), status))

    def _is_duplicate(self, meta: dict[str, Any], event_id: str, offset: int,
                      arrival_ms: int) -> bool:
        """Has ``event_id`` been applied within the dedup horizon (by arrival time)?

        Ids are kept in buckets of arrival time; a lookup checks every live bucket, an insert
        writes only the newest one, and buckets older than the horizon are deleted."""
        span = DEDUP_BUCKET_MS
        buckets: list[int] = meta["dedup_buckets"]
        for b in buckets:
            first = self._load(dedup_key(self.partition, b), dict).get(event_id)
            if first is not None:
                return bool(first < offset)  # == offset: this very message, replayed
        bucket = arrival_ms // span
        if bucket not in buckets:
            buckets.append(bucket)
            horizon = (arrival_ms - self.cfg.dedup_horizon_ms) // span
            for old in [b for b in buckets if b < horizon]:
                buckets.remove(old)
                self._delete(dedup_key(self.partition, old))
        key = dedup_key(self.partition, bucket if bucket in buckets else max(buckets))
        self._load(key, dict)[event_id] = offset
        self._dirty(key)
        return False

    def _track(self, ctx: dict[str, Any], ev: Interaction) -> tuple[str, str, bool]:
        risk = ev.raw.get("risk_tier")
        if risk:
            ctx["risk"] = clean_label(risk)
        cohort, model, overflow = ev.cohort, ev.model, False
        if cohort not in ctx["cohorts"]:
            if len(ctx["cohorts"]) < self.cfg.max_cohorts_per_context:
                ctx["cohorts"].append(cohort)
            else:
                cohort, overflow = OTHER, True
        if model not in ctx["models"]:
            if len(ctx["models"]) < self.cfg.max_models_per_context:
                ctx["models"].append(model)
            else:
                model, overflow = OTHER, True
        return cohort, model, overflow

    # -- control ticks ---------------------------------------------------------------------
    def _control(self, meta: dict[str, Any], msg: Message, fresh: bool) -> None:
        """Idle ticks from the worker's own timer. Anything else carrying the control header
        (a producer's mistake, or a forgery) is dead-lettered, never obeyed."""
        tick: Any = None
        if self.cfg.control_token and msg.control == self.cfg.control_token.encode():
            try:
                tick = orjson.loads(msg.value)
            except orjson.JSONDecodeError:
                tick = None
        if not isinstance(tick, dict) or tick.get("kind") not in ("idle", "flush", "baseline"):
            if fresh:
                meta["counts"]["dead"] += 1
                self.out.dead_letters.append(self._dead_letter(
                    msg, Rejection("forged_control", "control header without a valid token")))
            return
        if fresh and tick["kind"] == "baseline":
            try:
                updates = self._parse_baseline(tick)
            except Exception as e:  # an operator's malformed message must not stop the stream
                meta["counts"]["dead"] += 1
                self.out.dead_letters.append(self._dead_letter(msg, Rejection(
                    "processing_error", f"bad baseline message: {type(e).__name__}: "
                                        f"{str(e)[:120]}")))
                return
            self._set_baseline(tick, updates)
            return
        if not fresh or tick["kind"] != "idle":
            return
        if tick.get("last_data_offset") != meta["last_data_offset"]:
            return  # data arrived after the tick was sent: the partition is not idle
        # processing time (the tick's timestamp, in the log) stands in for event time on a
        # silent partition: windows that ended more than the allowed lateness ago close
        now = msg.timestamp_ms
        if now is None:
            return
        w = self.cfg.window_ms
        frontier = now - self.cfg.lateness_ms
        frontier -= frontier % w
        for name, ctx in meta["contexts"].items():
            if ctx["open"] and (ctx["closed"] is None or frontier > ctx["closed"]):
                ctx["closed"] = frontier
                self._close_due(name, ctx, "idle")
        self._check_silence(meta, now)

    @staticmethod
    def _parse_baseline(msg: dict[str, Any]) -> list[tuple[str, WindowSummary | None]]:
        """Validate the whole message before anything is applied (all or nothing)."""
        ctx = msg["context"]
        if not isinstance(ctx, str) or not isinstance(msg["segments"], dict):
            raise ValueError("context must be a string and segments an object")
        out: list[tuple[str, WindowSummary | None]] = []
        for name, b64 in msg["segments"].items():
            cohort, model = name.split(SEP)
            summary = (WindowSummary.from_bytes(base64.b64decode(b64, validate=True))
                       if b64 else None)
            out.append((seg_key((ctx, cohort, model)), summary))
        return out

    def _set_baseline(self, msg: dict[str, Any],
                      updates: list[tuple[str, WindowSummary | None]]) -> None:
        """An operator froze (or cleared) a baseline: merged window summaries of a period,
        per segment of one context (``postwatch baseline freeze``). It is then the reference
        of those segments instead of their trailing history."""
        for key, summary in updates:
            state = self._load(key, new_segment)
            if summary is not None:
                state["baseline"] = summary
                state["baseline_period"] = [msg.get("from"), msg.get("to")]
            else:
                state.pop("baseline", None)
                state.pop("baseline_period", None)
            self._dirty(key)

    # -- closing and judging ---------------------------------------------------------------
    def _close_due(self, name: str, ctx: dict[str, Any], reason: str) -> None:
        frontier = ctx["closed"]
        w = self.cfg.window_ms
        closed: list[tuple[Segment, dict[str, Any], WindowSummary]] = []
        still_open = []
        for key in ctx["open"]:
            state = self._load(key, new_segment)
            due = sorted(int(s) for s in state["windows"] if int(s) + w <= frontier)
            seg: Segment = tuple(key.split(SEP)[1:])  # type: ignore[assignment]
            for start in due:
                agg = state["windows"].pop(str(start))
                summary = _obj(agg, "summary", WindowSummary) or WindowSummary()
                closed.append((seg, self._window_row(seg, start, agg, summary, state, reason),
                               summary))
            if due:
                self._dirty(key)
            if state["windows"]:
                still_open.append(key)
            elif state.pop("scan", None) is not None:
                # an idle segment keeps no open-window state: its tail is stale by now
                self._dirty(key)
        ctx["open"] = still_open
        if closed:
            self._judge(closed, f"{name}{SEP}{frontier}")

    def _window_row(self, seg: Segment, start: int, agg: dict[str, Any], summary: WindowSummary,
                    state: dict[str, Any], reason: str) -> dict[str, Any]:
        late, state["late_pending"] = state["late_pending"], 0
        latency = summary.numeric.get("latency_ms")
        return {
            "window_start": start,
            "window_end": start + self.cfg.window_ms,
            "deployment_context": seg[0],
            "cohort": seg[1],
            "model": seg[2],
            "level": level_of(seg),
            "events": agg["n"],
            **{f: agg[f] for f in FLAGS},
            "late_events": late,
            "overflow_events": agg["overflow"],
            "input_chars_sum": agg["in_chars"],
            "output_chars_sum": agg["out_chars"],
            "input_tokens_sum": agg["in_tokens"],
            "output_tokens_sum": agg["out_tokens"],
            "latency_sum_ms": agg["lat_sum"],
            "latency_count": agg["lat_n"],
            "latency_max_ms": agg["lat_max"],
            "latency_p50_ms": latency.quantile(0.5) if latency and latency.n else None,
            "latency_p95_ms": latency.quantile(0.95) if latency and latency.n else None,
            "first_event_ms": agg["first"],
            "last_event_ms": agg["last"],
            "sample_event_ids": sorted({i for ids in agg["samples"].values() for i in ids}),
            "closed_by": reason,
            "source_partition": self.partition,
            "summary": base64.b64encode(summary.to_bytes()).decode(),
            "_samples": agg["samples"],
        }

    def _reference(self, seg: Segment, window_start: int
                   ) -> tuple[Segment, str, WindowSummary] | None:
        """The segment's frozen baseline, else (``reference_mode = hour_of_week``) the same
        hour of the previous week, else its trailing reference, else its parent's (a segment
        with too little history of its own, such as a new model). A segment borrows from
        an ancestor only if it appeared after that ancestor's reference had a full block
        without it: a cohort or model that was there all along is part of its parent's mix,
        and judging the part against the whole would flag the mix, not a change."""
        born = self._load(seg_key(seg), new_segment).get("born", window_start)
        cur: Segment | None = seg
        while cur is not None:
            if cur != seg:
                first = self._load(seg_key(cur), new_segment).get("ref_first")
                block_ms = self.cfg.reference_block_windows * self.cfg.window_ms
                if first is None or born < first + block_ms:
                    cur = parent_of(cur)
                    continue
            state = self._load(seg_key(cur), new_segment)
            baseline = _obj(state, "baseline", WindowSummary)
            if baseline is not None and baseline.n >= self.cfg.min_reference_events:
                return cur, "baseline", baseline
            if self.cfg.reference_mode == "hour_of_week":
                slot = state.get("how", {}).get(str(hour_of_week(window_start)))
                # before this week's first window of the hour, "cur" still holds last week's
                last_week = slot and ("prev" if slot["week"] == window_start // WEEK_MS
                                      else "cur")
                prev = _obj(slot, last_week, WindowSummary) if slot else None
                if prev is not None and prev.n >= self.cfg.min_reference_events:
                    return cur, "hour_of_week", prev
            ref_state = _obj(state, "ref", ReferenceState)
            ref = ref_state.reference() if ref_state is not None else None
            if ref is not None and ref.n >= self.cfg.min_reference_events:
                return cur, "trailing", ref
            cur = parent_of(cur)
        return None

    def _judge(self, closed: list[tuple[Segment, dict[str, Any], WindowSummary]],
               step: str) -> None:
        items: list[JudgeItem] = []
        anomalies: dict[tuple[Segment, str], AnomalyResult] = {}
        kinds: dict[Segment, str] = {}
        for seg, row, summary in closed:
            state = self._load(seg_key(seg), new_segment)
            ref = self._reference(seg, row["window_start"])
            ref_state = _obj(state, "ref", ReferenceState)
            extra = self._anomaly_tests(seg, state, summary, anomalies)
            kinds[seg] = ref[1] if ref else "none"
            items.append(JudgeItem(
                segment=seg, window_start=row["window_start"], window=summary,
                reference=ref[2] if ref else None, reference_segment=ref[0] if ref else None,
                reference_counts=tuple(ref_state.counts) if ref_state is not None else (),
                extra_tests=tuple(extra), recent=self._recent(state, summary)))
        verdicts = self._decide(judge(items, self.judge_config()), step)
        found: dict[Segment, bool] = {}
        rows = {(seg, row["window_start"]): row for seg, row, _ in closed}
        alerts_due: dict[tuple[Segment, str, str], tuple[dict[str, Any], DriftTest, Segment,
                                                         bool]] = {}
        for v in verdicts:
            t = v.test
            finding = v.finding
            if t.kind == "anomaly":  # N consecutive breaching windows before it counts
                finding = finding and anomalies[(v.segment, t.metric)].firing
            found[v.segment] = found.get(v.segment, False) or finding
            row = rows[(v.segment, v.window_start)]
            ref_seg = v.reference_segment or v.segment
            self.out.drift.append(self._drift_row(v.segment, row, t, ref_seg, kinds[v.segment],
                                                  v.bh_rejected, finding))
            # one alert per metric: the single-window and the merged-window test of a metric
            # share its lifecycle (a finding of either fires it; the reported test is the
            # finding, preferring the single window)
            group = (v.segment, t.kind, base_metric(t.metric))
            best = alerts_due.get(group)
            if best is None or (finding and not best[3]):
                alerts_due[group] = (row, t, ref_seg, finding)
        for (seg, _kind, _metric), (row, t, ref_seg, finding) in alerts_due.items():
            self._lifecycle(seg, row, t, ref_seg, finding)
        for seg, row, summary in closed:
            self._absorb(seg, summary, found.get(seg, False), row["window_start"], kinds[seg])
            row.pop("_samples", None)
            self.out.windows.append(row)

    def _drift_row(self, seg: Segment, row: dict[str, Any], t: DriftTest, ref_seg: Segment,
                   reference_kind: str, rejected: bool, finding: bool) -> dict[str, Any]:
        return {
            "window_start": row["window_start"],
            "window_end": row["window_end"],
            "deployment_context": seg[0],
            "cohort": seg[1],
            "model": seg[2],
            "level": row["level"],
            "metric": t.metric,
            "kind": t.kind,
            "test": t.test,
            "statistic": t.statistic,
            "p_value": t.p_value,
            "effect": t.effect,
            "effect_name": t.effect_name,
            "observed": t.observed,
            "reference": t.reference,
            "n": t.n,
            "n_ref": t.n_ref,
            "detail": t.detail,
            "reference_segment": list(ref_seg),
            "reference_kind": reference_kind,
            "fdr_q": self.cfg.fdr_q,
            "bh_rejected": rejected,
            "finding": finding,
        }

    def _early(self, seg: Segment, state: dict[str, Any], agg: dict[str, Any], wstart: int,
               flags: Mapping[str, bool], numeric: Mapping[str, float | None],
               cats: Mapping[str, str | None], ctx: dict[str, Any]) -> None:
        """Early detection after an event was added to an open window: the segment's tail
        scan when the event completes a chunk (rates, means and categories of its last
        32..512 events, across window boundaries), and an interim look at the open window
        when it reaches 32, 64, 128, ... events. A finding fires the metric's alert at once
        (the window test at close then continues or resolves it). Both run at fixed event
        counts, so a replay repeats them exactly. Only findings go to ``drift_results`` (the
        scan runs dozens of tests every 32 events)."""
        scan = state.get("scan")
        if not isinstance(scan, TailScan):  # decoded once, kept in the state cache
            scan = state["scan"] = TailScan() if scan is None else TailScan.from_dict(scan)
        completed = scan.add(flags, numeric, cats)
        look = look_number(agg["n"])
        if not completed and look is None:
            return
        ref = self._reference(seg, wstart)
        if ref is None:
            return
        # the context's segments are looked at one by one: Bonferroni over them
        multiplicity = 1 + len(ctx["cohorts"]) + len(ctx["models"])
        jc = self.judge_config()
        found: list[DriftTest] = []
        if completed:
            found += [v.test for v in scan_tests(scan, ref[2], jc, self.cfg.scan_alpha,
                                                 multiplicity) if v.finding]
        if look is not None:
            summary = _obj(agg, "summary", WindowSummary)
            item = JudgeItem(seg, wstart, summary, ref[2], ref[0])
            found += [v.test for v in interim_judge([item], jc, look, multiplicity)
                      if v.finding]
        if not found:
            return
        row = {"window_start": wstart, "window_end": wstart + self.cfg.window_ms,
               "level": level_of(seg), "_samples": agg["samples"]}
        seen: set[tuple[str, str]] = set()
        # a drift_results row is keyed by segment, window and metric: a tail of the same
        # length that tests significant again at a later chunk of the window would replace
        # the first row, so the window keeps its first (the alert is firing already)
        written = agg.setdefault("early", [])
        for t in found:  # the first finding of each metric (shortest tail first)
            group = (t.kind, base_metric(t.metric))
            if group in seen:
                continue
            seen.add(group)
            if t.metric not in written:
                written.append(t.metric)
                self.out.drift.append(self._drift_row(seg, row, t, ref[0], ref[1], True, True))
            self._lifecycle(seg, row, t, ref[0], True)

    def _decide(self, verdicts: list[Any], step: str) -> list[Any]:
        """The step's Benjamini–Hochberg decisions: recorded in the journal the first time,
        and taken from it when the step is replayed (possibly with only part of its family,
        the rest having been written before a crash)."""
        steps = self._journal["steps"]
        if step not in steps:
            rejected = [v.test.p_value for v in verdicts if v.bh_rejected]
            steps[step] = [self._offset, max(rejected) if rejected else None]
            return verdicts
        threshold = steps[step][1]
        jc = self.judge_config()
        out = []
        for v in verdicts:
            rej = threshold is not None and v.test.p_value <= threshold
            out.append(dataclasses.replace(v, bh_rejected=rej,
                                           finding=rej and effect_reaches(v.test, jc)))
        return out

    def _recent(self, state: dict[str, Any], summary: WindowSummary) -> WindowSummary | None:
        """This window merged with the segment's previous ``recent_windows - 1`` closed
        windows (kept in the segment state, oldest first), and remember this one."""
        keep = self.cfg.recent_windows - 1
        if keep < 1:
            return None
        previous = [WindowSummary.from_bytes(base64.b64decode(b)) for b in state.get("recent", [])]
        state["recent"] = [*state.get("recent", []),
                           base64.b64encode(summary.to_bytes()).decode()][-keep:]
        if not previous:
            return None
        merged = previous[0]
        for other in [*previous[1:], summary]:
            merged.merge(other)
        return merged

    def judge_config(self) -> JudgeConfig:
        cfg = self.cfg
        return JudgeConfig(
            fdr_q=cfg.fdr_q, min_window_events=cfg.min_window_events,
            min_reference_events=cfg.min_reference_events,
            min_effect={**DEFAULT_MIN_EFFECT, "rate": cfg.min_rate_diff,
                        "rate_ratio": cfg.min_rate_ratio, "numeric": cfg.min_numeric_effect})

    def _anomaly_tests(self, seg: Segment, state: dict[str, Any], summary: WindowSummary,
                       results: dict[tuple[Segment, str], AnomalyResult]) -> list[DriftTest]:
        """Robust (median/MAD) baselines of each metric's series, at context and cohort
        level, and an IsolationForest over the context's window feature vectors."""
        if level_of(seg) == "model" or summary.n < self.cfg.min_window_events:
            return []
        series = window_series(summary)
        baselines = state.setdefault("anomaly", {})
        out = []
        for metric, value in series.items():
            if metric in baselines:
                rb = RobustBaseline.from_dict(baselines[metric])
            else:
                rb = RobustBaseline(window=self.cfg.anomaly_windows,
                                    consecutive=self.cfg.anomaly_consecutive)
            t, r = rb.test(value, f"{metric}:series")
            baselines[metric] = rb.to_dict()
            results[(seg, t.metric)] = r
            if r.p_value < 1.0:
                out.append(t)
        if level_of(seg) == "context":
            vectors = state.setdefault("vectors", [])
            vector = [series[k] for k in sorted(series)]
            if len(vectors) >= MULTIVARIATE_MIN_WINDOWS:
                iso = MultivariateIsolation(n_estimators=50, min_reference=len(vectors))
                out.append(iso.fit(vectors).test(vector))
            vectors.append(vector)
            del vectors[:-MULTIVARIATE_MAX_WINDOWS]
        return out

    def _absorb(self, seg: Segment, summary: WindowSummary, finding: bool,
                window_start: int, judged_by: str) -> None:
        """Add a closed window to its segment's trailing reference. Windows with a finding
        are kept out (an incident must not become the reference it is judged against)
        unless the change has lasted ``reference_adapt_windows``: then it is the new normal."""
        state = self._load(seg_key(seg), new_segment)
        if self.cfg.reference_mode == "hour_of_week" and not (
                finding and judged_by == "hour_of_week"):
            # a weekly pattern is a finding against the trailing reference the first time it
            # shows: only a finding against the same hour of the last week stays out
            self._absorb_seasonal(state, summary, window_start)
        if finding and state.get("excluded", 0) < self.cfg.reference_adapt_windows:
            state["excluded"] = state.get("excluded", 0) + 1
        else:
            state["excluded"] = 0
            ref = _obj(state, "ref", ReferenceState)
            if ref is None:
                ref = state["ref"] = ReferenceState(self.cfg.reference_block_windows,
                                                    self.cfg.reference_blocks)
                state.setdefault("ref_first", window_start)
            ref.add_window(summary)
        self._dirty(seg_key(seg))

    @staticmethod
    def _absorb_seasonal(state: dict[str, Any], summary: WindowSummary, window_start: int) -> None:
        """Per hour of the week: the hour being filled this week, and the same hour of the
        last week that had traffic (the reference). Up to 2 x 168 summaries per segment."""
        week = window_start // WEEK_MS
        slot = state.setdefault("how", {}).setdefault(
            str(hour_of_week(window_start)), {"week": week, "cur": None, "prev": None})
        if slot["week"] != week:
            slot["prev"], slot["cur"], slot["week"] = slot["cur"], None, week
        cur = _obj(slot, "cur", WindowSummary)
        if cur is None:
            slot["cur"] = summary.copy()
        else:
            cur.merge(summary)

    def _lifecycle(self, seg: Segment, row: dict[str, Any], t: DriftTest, ref_seg: Segment,
                   finding: bool) -> None:
        key = seg_key(seg)
        state = self._load(key, new_segment)
        lifecycle = state.setdefault("alerts", {}).setdefault(
            f"{t.kind}:{base_metric(t.metric)}", alerting.new_state())
        status = alerting.step(lifecycle, tested=True, finding=finding,
                               window_start=row["window_start"],
                               cooldown_ms=self.cfg.alert_cooldown_seconds * 1000,
                               resolve_after=self.cfg.resolve_after_windows)
        self._dirty(key)
        if status is not None:
            self.out.alerts.append(self._alert(seg, row, t, ref_seg, status))

    def _alert(self, seg: Segment, row: dict[str, Any], t: DriftTest, ref_seg: Segment,
               status: str) -> dict[str, Any]:
        dedup = stable_id(seg, t.kind, base_metric(t.metric))
        direction = "up" if t.observed >= t.reference else "down"
        risk = self._load(meta_key(self.partition), new_meta)["contexts"].get(
            seg[0], {}).get("risk")
        floor = self.judge_config().floor(t.metric, t.kind)
        ratio = abs(t.effect) / floor if floor else abs(t.effect)
        base = base_metric(t.metric)
        flag = RATE_METRICS.get(base)
        samples = row["_samples"].get(flag) if flag else None
        return {
            "schema_version": 1,
            "alert_id": stable_id(dedup, row["window_start"]),
            "dedup_key": dedup,
            "status": status,
            # a critical metric is critical when it rises; a drop is reported at its
            # effect's own severity
            "severity": alerting.severity(ratio, risk,
                                          base in CRITICAL_METRICS and direction == "up"),
            "detector": t.kind,
            "detector_version": detectors.__version__,
            "config_hash": self.cfg.judge_hash(),
            "segment": {"deployment_context": seg[0], "cohort": seg[1], "model": seg[2]},
            "level": row["level"],
            "metric": t.metric,
            "direction": direction,
            "window_start": row["window_start"],
            "window_end": row["window_end"],
            "observed": t.observed,
            "reference": t.reference,
            "effect": t.effect,
            "effect_name": t.effect_name,
            "test": t.test,
            "statistic": t.statistic,
            "p_value": t.p_value,
            "n": t.n,
            "n_ref": t.n_ref,
            "reference_segment": {"deployment_context": ref_seg[0], "cohort": ref_seg[1],
                                  "model": ref_seg[2]},
            "fdr_q": self.cfg.fdr_q,
            "evidence_event_ids": (samples or row["_samples"]["any"])[:SAMPLE_IDS],
            "summary": (
                f"[{status}] {t.metric} ({t.test}) {direction}: {t.observed:.4g} vs reference "
                f"{t.reference:.4g} (n={t.n}, p={t.p_value:.2g}) in {seg[0]}/{seg[1]}/{seg[2]}"
            ),
        }

    # -- records ---------------------------------------------------------------------------
    def _text(self, text: str | None, redacted: str | None) -> str | None:
        """The stored form of a text. Redaction covers the whole text (from the evaluators'
        own scan) before the cut, so a cut never splits a match."""
        mode = self.cfg.store_text
        if text is None or mode == "none":
            return None
        return (text if mode == "full" else redacted or "")[: self.cfg.max_text_chars]

    def _evaluated(self, ev: Interaction, msg: Message, cohort: str, model: str,
                   flags: Mapping[str, bool], sig: Any, late: bool) -> dict[str, Any]:
        return {
            "event_id": ev.event_id,
            "timestamp": ev.ts_ms,
            "deployment_context": ev.context,
            "cohort": cohort,
            "model": model,
            "model_version": ev.model_version,
            "source_partition": self.partition,
            "source_offset": msg.offset,
            "late": late,
            **flags,
            "over_refusal": sig.over_refusal,
            "refusal_score": sig.refusal_score,
            "jailbreak_score": sig.jailbreak_score,
            "harmful_request_score": sig.harmful_request_score,
            "harmful_output_score": sig.harmful_output_score,
            "truncated": sig.truncated,
            "pii_kinds": list(sig.pii_kinds),
            "pii_input_kinds": list(sig.pii_input_kinds),
            "pii_output_kinds": list(sig.pii_output_kinds),
            "input_chars": sig.input_chars,
            "output_chars": sig.output_chars,
            "input_tokens": ev.input_tokens,
            "output_tokens": ev.output_tokens,
            "latency_ms": ev.latency_ms,
            "finish_reason": ev.finish_reason,
            "scores": ev.scores,
            "input_text": self._text(ev.input_text, sig.input_redacted),
            "output_text": self._text(ev.output_text, sig.output_redacted),
            "text_mode": self.cfg.store_text,
        }

    def _dead_letter(self, msg: Message, rej: Rejection) -> dict[str, Any]:
        return {
            "reason": rej.reason,
            "detail": redact(rej.detail),
            "source_partition": self.partition,
            "source_offset": msg.offset,
            "length": len(msg.value),
            "sha256": hashlib.sha256(msg.value).hexdigest(),
            "raw": msg.value[: self.cfg.dlq_max_bytes],
        }
