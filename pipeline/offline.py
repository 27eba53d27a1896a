"""Offline evaluation of schema-v1 events (`postwatch evaluate FILE.jsonl`).

The same decoding and the same evaluators as the workers, without Kafka: users backtest a
day of traffic or a red-team set with it. Lines are evaluated in chunks by a process pool
(the evaluators are pure Python and CPU-bound), and written in input order.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from itertools import islice
from typing import Any

import orjson

from detectors.evaluate import evaluate
from pipeline.config import Config
from pipeline.validate import Interaction, Rejection, decode
from pipeline.windows import user_output_model

CHUNK = 256

# per process: set by _init in pool workers, or directly for jobs=1
_SETTINGS: dict[str, Any] = {}


def _init(max_bytes: int, max_chars: int, state_dir: str | None) -> None:
    _SETTINGS.update(max_bytes=max_bytes, max_chars=max_chars,
                     model=user_output_model(state_dir) if state_dir else None)


def record(ev: Interaction, max_chars: int, model: Any = None) -> dict[str, Any]:
    """The offline result of one valid event."""
    s = evaluate(ev.input_text, ev.output_text, max_chars=max_chars, output_model=model)
    return {
        "event_id": ev.event_id,
        "refusal": s.refusal,
        "refusal_score": s.refusal_score,
        "over_refusal": s.over_refusal,
        "jailbreak": s.jailbreak,
        "jailbreak_score": s.jailbreak_score,
        "harmful_request": s.harmful_request,
        "harmful_request_score": s.harmful_request_score,
        "harmful_output": s.harmful_output,
        "harmful_output_score": s.harmful_output_score,
        "pii": {"input": list(s.pii_input_kinds), "output": list(s.pii_output_kinds)},
        "truncated": s.truncated,
    }


def _chunk(lines: list[tuple[int, bytes]]) -> list[tuple[int, bytes | Rejection]]:
    out: list[tuple[int, bytes | Rejection]] = []
    for number, raw in lines:
        ev = decode(raw, _SETTINGS["max_bytes"])
        if isinstance(ev, Rejection):
            out.append((number, ev))
        else:
            out.append((number, orjson.dumps(
                record(ev, _SETTINGS["max_chars"], _SETTINGS["model"])) + b"\n"))
    return out


def _chunks(stream: Iterable[bytes]) -> Iterator[list[tuple[int, bytes]]]:
    numbered = ((i, line.rstrip(b"\r\n")) for i, line in enumerate(stream, 1) if line.strip())
    while chunk := list(islice(numbered, CHUNK)):
        yield chunk


def evaluate_lines(stream: Iterable[bytes], write: Callable[[bytes], Any], cfg: Config, *,
                   jobs: int = 1, user_model: bool = True,
                   on_error: Callable[[int, Rejection], Any] | None = None) -> dict[str, int]:
    """Evaluate every line of ``stream``, writing one JSON line per valid event; returns
    counts of evaluated events and rejected lines."""
    settings = (cfg.max_event_bytes, cfg.max_eval_chars, cfg.state_dir if user_model else None)
    stats = {"evaluated": 0, "rejected": 0}

    def emit(results: list[tuple[int, bytes | Rejection]]) -> None:
        for number, result in results:
            if isinstance(result, Rejection):
                stats["rejected"] += 1
                if on_error is not None:
                    on_error(number, result)
            else:
                stats["evaluated"] += 1
                write(result)

    if jobs <= 1:
        _init(*settings)
        for chunk in _chunks(stream):
            emit(_chunk(chunk))
        return stats
    with ProcessPoolExecutor(jobs, initializer=_init, initargs=settings) as pool:
        pending: deque[Future[list[tuple[int, bytes | Rejection]]]] = deque()
        for chunk in _chunks(stream):  # a bounded number of chunks in flight, in order
            pending.append(pool.submit(_chunk, chunk))
            if len(pending) >= 4 * jobs:
                emit(pending.popleft().result())
        while pending:
            emit(pending.popleft().result())
    return stats
