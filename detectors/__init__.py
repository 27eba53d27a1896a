"""postwatch detectors: pure per-event evaluators and window statistics.

Nothing here imports Kafka, Faust or ClickHouse; every function takes text or counts and
returns plain values, so the same code serves the stream, backfills and notebooks.
"""

from detectors.canary import CanaryConfig, CanaryState, CanaryVerdict, decide
from detectors.evaluate import Signals, evaluate
from detectors.harmful_output import harmful_output_score, is_harmful_output
from detectors.harmful_request import harmful_request_score, is_harmful_request
from detectors.jailbreak import is_jailbreak, jailbreak_score
from detectors.pii import PiiMatch, find_pii, pii_kinds, redact, scrub
from detectors.rates import RateTest, benjamini_hochberg, is_finding, rate_test
from detectors.refusal import is_refusal, refusal_score

__all__ = [
    "CanaryConfig",
    "CanaryState",
    "CanaryVerdict",
    "PiiMatch",
    "RateTest",
    "Signals",
    "benjamini_hochberg",
    "decide",
    "evaluate",
    "find_pii",
    "harmful_output_score",
    "harmful_request_score",
    "is_finding",
    "is_harmful_output",
    "is_harmful_request",
    "is_jailbreak",
    "is_refusal",
    "jailbreak_score",
    "pii_kinds",
    "rate_test",
    "redact",
    "refusal_score",
    "scrub",
]
__version__ = "0.2.0"
