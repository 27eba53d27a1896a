"""The per-event evaluators' quality and speed on the public data, in one run.

    python bench/evaluators.py [--data-dir ../shared/data] [--quick]

Prints, from ``../shared/data`` (never its text):

1. refusal: leave-one-configuration-out F1 on XSTest's human labels, next to the dataset's
   own string-match and GPT-4-judge F1 on the same rows; over-refusal agreement; refusal
   rates on completions of models the detector never saw;
2. jailbreak: leave-one-attack-method-out ROC-AUC and recall at 1% FPR (JailbreakBench
   attack prompts vs Arena-Hard and XSTest prompts, deduplicated); harmful-request AUCs
   (XSTest unsafe vs safe, JBB goals vs Arena, OpenAI moderation categories);
3. harmful output: ROC-AUC against JailbreakBench's ``jailbroken`` and Llama Guard labels,
   agreement at the threshold, HH-RLHF pairs, and a user-trained classifier
   (``postwatch evaluator train``) scored leave-one-target-model-out;
4. PII: precision and recall per kind on two seeded Faker corpora with tricky negatives;
5. speed: events/s of each evaluator and of ``evaluate()`` (all of them) on real events of
   the demo mix, single process.

Each part lives in ``bench/quality/<evaluator>.py`` and can be run on its own.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.quality import format_table, harmful_output, jailbreak, pii, refusal  # noqa: E402
from detectors.evaluate import evaluate  # noqa: E402
from detectors.harmful_output import harmful_output_score  # noqa: E402
from detectors.harmful_request import harmful_request_score  # noqa: E402
from detectors.jailbreak import jailbreak_score  # noqa: E402
from detectors.pii import scrub  # noqa: E402
from detectors.refusal import refusal_score  # noqa: E402


def real_events(data_dir: Path, n: int) -> list[tuple[str, str]]:
    """(input, output) pairs of the demo scenario's mix (Arena-Hard, XSTest, JailbreakBench)."""
    from pipeline.scenario import build_demo_scenario

    s = build_demo_scenario(data_dir, seed=1, start_ms=1_796_300_000_000, minutes=60,
                            per_segment_per_minute=max(1, n // 240 + 1))
    pairs = [(e["input"].get("text") or "", e["output"].get("text") or "") for e in s.events]
    return pairs[:n]


def speed_rows(pairs: list[tuple[str, str]], reps: int) -> list[dict[str, object]]:
    ins = [p[0] for p in pairs]
    outs = [p[1] for p in pairs]
    cases: list[tuple[str, Callable[[], object]]] = [
        ("pii.scrub (input + output)", lambda: [scrub(t) for t in ins + outs]),
        ("refusal_score (output)", lambda: [refusal_score(t) for t in outs]),
        ("jailbreak_score (input)", lambda: [jailbreak_score(t) for t in ins]),
        ("harmful_request_score (input)", lambda: [harmful_request_score(t) for t in ins]),
        ("harmful_output_score (output, input)",
         lambda: [harmful_output_score(o, i, refusal=0.0) for i, o in pairs]),
        ("evaluate() (all of the above)", lambda: [evaluate(i, o) for i, o in pairs]),
    ]
    out = []
    for name, fn in cases:
        times = []
        for _ in range(reps):
            t0 = time.process_time()
            fn()
            times.append(time.process_time() - t0)
        sec = statistics.median(times)
        out.append({"evaluator": name, "events": len(pairs),
                    "us_per_event": sec / len(pairs) * 1e6, "events_per_s": len(pairs) / sec})
    return out


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data-dir", type=Path,
                    default=Path(os.environ.get("POSTWATCH_DATA_DIR", REPO.parent / "shared"
                                                / "data")))
    ap.add_argument("--quick", action="store_true", help="smaller speed sample, no textclf")
    args = ap.parse_args(argv)
    d = args.data_dir
    parts = [
        ("1. refusal (XSTest, leave-one-configuration-out)", lambda: refusal.rows(d)),
        ("2. jailbreak (leave-one-attack-method-out) and harmful request",
         lambda: jailbreak.rows(d)),
        ("3. harmful output", lambda: harmful_output.rows(d, with_textclf=not args.quick)),
        ("4. PII (Faker corpora, two splits)", lambda: pii.rows(d)),
    ]
    for title, fn in parts:
        t0 = time.monotonic()
        rows = fn()
        print(f"\n{title}   [{time.monotonic() - t0:.1f} s]\n")
        print(format_table(rows))
    pairs = real_events(d, 1000 if args.quick else 4000)
    print("\n5. speed on real events (demo mix, one process, CPU time, median of 3)\n")
    print(format_table(speed_rows(pairs, reps=3)))


if __name__ == "__main__":
    main()
