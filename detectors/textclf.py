"""A fast text classifier that a user trains on their own labelled examples.

``postwatch evaluator train`` turns a user's JSONL file of ``{"text": ..., "label": ...}``
lines into a small linear model; the pipeline loads it from the user's state directory and
scores each event with it. The model is a logistic regression on hashed features: word
unigrams and bigrams, and character 3- to 5-grams within word boundaries, each hashed into
``n_features`` columns by scikit-learn's ``HashingVectorizer`` (no vocabulary to store,
``alternate_sign=False``, each block L2-normalised). Training on a few thousand texts
takes seconds; scoring costs one hashing pass over at most ``max_chars`` characters and a
sparse dot product.

A saved model is plain JSON: the vectorizer configuration, the intercept, and the non-zero
coefficients as (index, value) lists, with a format name, a version and the SHA-256 of
the canonical parameters. Loading parses JSON only (no pickle, nothing executable),
checks every field's type and range, and recomputes the hash, so a truncated, edited or
foreign file is rejected with a :class:`ModelFileError` that says why. The hash detects
corruption and accidental edits; it is not a signature, so keep the state directory
writable only by the pipeline's user.

Parameters
----------
See :func:`train`.

Examples
--------
>>> data = [("buy cheap pills now", True), ("win a free prize now", True),
...         ("meeting moved to noon", False), ("see the attached report", False)] * 5
>>> clf = train(data, seed=0)
>>> bool(clf.score("cheap pills, free prize") > clf.score("the report for the meeting"))
True
>>> clf.n_train, clf.n_positive
(20, 10)

"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import HashingVectorizer
from sklearn.linear_model import LogisticRegression

__all__ = [
    "FORMAT",
    "VERSION",
    "LabeledDataError",
    "ModelFileError",
    "TextClassifier",
    "load",
    "read_labeled_jsonl",
    "train",
]

FORMAT = "postwatch-textclf"
VERSION = 1

#: Largest model file :func:`load` reads, and largest labelled line it accepts.
MAX_MODEL_BYTES = 64 * 1024 * 1024
MAX_LINE_BYTES = 1024 * 1024

_DEFAULT_CONFIG: dict[str, object] = {
    "n_features": 2**18,
    "word_ngram": [1, 2],
    "char_ngram": [3, 5],
    "max_chars": 4000,
    "lowercase": True,
}


class ModelFileError(ValueError):
    """A model file that cannot be loaded: not JSON, wrong format or version, bad field,
    or parameters whose hash does not match."""


class LabeledDataError(ValueError):
    """A labelled JSONL file with a bad line; the message names the line and the reason."""


def _vectorizers(config: dict[str, object]) -> tuple[HashingVectorizer, HashingVectorizer]:
    n = int(config["n_features"])  # type: ignore[call-overload]
    w: list[int] = config["word_ngram"]  # type: ignore[assignment]
    c: list[int] = config["char_ngram"]  # type: ignore[assignment]
    lower = bool(config["lowercase"])
    word = HashingVectorizer(analyzer="word", ngram_range=(w[0], w[1]), n_features=n,
                             alternate_sign=False, norm="l2", lowercase=lower)
    char = HashingVectorizer(analyzer="char_wb", ngram_range=(c[0], c[1]), n_features=n,
                             alternate_sign=False, norm="l2", lowercase=lower)
    return word, char


def _canonical(body: dict[str, object]) -> bytes:
    return json.dumps(body, sort_keys=True, separators=(",", ":"), allow_nan=False).encode()


@dataclass
class TextClassifier:
    """A trained hashed-features logistic regression; build it with :func:`train` or
    :func:`load`.

    Attributes
    ----------
    config
        Vectorizer configuration: ``n_features`` per block, ``word_ngram``, ``char_ngram``,
        ``max_chars`` (only that many leading characters are read), ``lowercase``.
    coef
        Dense coefficient vector of length ``2 * n_features`` (word block, then char block).
    intercept
        Logistic regression intercept.
    n_train, n_positive
        Number of training texts and of positive ones (informational).
    """

    config: dict[str, object]
    coef: np.ndarray
    intercept: float
    n_train: int = 0
    n_positive: int = 0
    _vecs: tuple[HashingVectorizer, HashingVectorizer] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._vecs = _vectorizers(self.config)

    def _transform(self, texts: Sequence[str]) -> sp.csr_matrix:
        limit = int(self.config["max_chars"])  # type: ignore[call-overload]
        clipped = [t[:limit] for t in texts]
        word, char = self._vecs
        return sp.hstack([word.transform(clipped), char.transform(clipped)], format="csr")

    def decision_function(self, texts: Sequence[str]) -> np.ndarray:
        """Return the linear score (log-odds) of each text."""
        if len(texts) == 0:
            return np.zeros(0)
        return np.asarray(self._transform(list(texts)) @ self.coef).ravel() + self.intercept

    def score_many(self, texts: Sequence[str]) -> np.ndarray:
        """Return the probability of the positive label for each text, in [0, 1].

        Examples
        --------
        >>> clf = train([("bad thing", True), ("good thing", False)] * 3)
        >>> clf.score_many(["bad", "good"]).round(2).tolist()
        [0.88, 0.11]

        """
        z = self.decision_function(texts)
        return 1.0 / (1.0 + np.exp(-z))

    def score(self, text: str) -> float:
        """Return the probability of the positive label for one text."""
        return float(self.score_many([text])[0])

    def params_sha256(self) -> str:
        """Return the SHA-256 of the canonical parameters (what :meth:`save` records)."""
        return hashlib.sha256(_canonical(self._body())).hexdigest()

    def _body(self) -> dict[str, object]:
        nz = np.flatnonzero(self.coef)
        return {
            "format": FORMAT,
            "version": VERSION,
            "config": self.config,
            "intercept": float(self.intercept),
            "indices": [int(i) for i in nz],
            "values": [float(v) for v in self.coef[nz]],
            "n_train": int(self.n_train),
            "n_positive": int(self.n_positive),
        }

    def save(self, path: str | Path) -> str:
        """Write the model as JSON to ``path`` (atomically) and return its parameter hash.

        Examples
        --------
        >>> import tempfile, os
        >>> clf = train([("bad thing", True), ("good thing", False)] * 3)
        >>> with tempfile.TemporaryDirectory() as d:
        ...     digest = clf.save(os.path.join(d, "m.json"))
        ...     same = load(os.path.join(d, "m.json")).score("bad") == clf.score("bad")
        >>> same, digest == clf.params_sha256()
        (True, True)

        """
        body = self._body()
        digest = hashlib.sha256(_canonical(body)).hexdigest()
        path = Path(path)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps({**body, "sha256": digest}, allow_nan=False) + "\n",
                       encoding="utf-8")
        tmp.replace(path)
        return digest


def train(records: Iterable[tuple[str, bool]], *, seed: int = 0, c: float = 4.0,
          config: dict[str, object] | None = None) -> TextClassifier:
    """Fit a classifier on ``(text, label)`` pairs.

    Parameters
    ----------
    records
        Pairs of text and boolean label; both labels must occur.
    seed
        Random state of the solver (the result is deterministic for a given seed).
    c
        Inverse L2 regularisation strength of the logistic regression (default 4.0).
    config
        Overrides of the vectorizer configuration: ``n_features`` (default 2**18 per block),
        ``word_ngram`` ([1, 2]), ``char_ngram`` ([3, 5]), ``max_chars`` (4000),
        ``lowercase`` (True).

    Examples
    --------
    >>> train([("only positives", True)])
    Traceback (most recent call last):
    ...
    ValueError: training needs both labels; got 1 positive and 0 negative texts

    """
    texts: list[str] = []
    labels: list[int] = []
    for text, label in records:
        if not isinstance(text, str):
            raise TypeError(f"text must be str, got {type(text).__name__}")
        texts.append(text)
        labels.append(1 if label else 0)
    pos = sum(labels)
    if pos == 0 or pos == len(labels):
        raise ValueError(f"training needs both labels; got {pos} positive and "
                         f"{len(labels) - pos} negative texts")
    cfg = dict(_DEFAULT_CONFIG)
    if config:
        unknown = set(config) - set(cfg)
        if unknown:
            raise ValueError(f"unknown config keys: {sorted(unknown)}")
        cfg.update(config)
    try:
        cfg = _check_config(cfg)
    except ModelFileError as exc:
        raise ValueError(str(exc)) from None
    n_coef = 2 * int(cfg["n_features"])  # type: ignore[call-overload]
    clf = TextClassifier(config=cfg, coef=np.zeros(n_coef), intercept=0.0,
                         n_train=len(labels), n_positive=pos)
    x = clf._transform(texts)
    model = LogisticRegression(C=c, class_weight="balanced", solver="liblinear",
                               random_state=seed, max_iter=1000)
    model.fit(x, np.asarray(labels))
    clf.coef = model.coef_[0].astype(np.float64)
    clf.intercept = float(model.intercept_[0])
    return clf


def _check_config(cfg: object) -> dict[str, object]:
    if not isinstance(cfg, dict) or set(cfg) != set(_DEFAULT_CONFIG):
        raise ModelFileError(f"config must have exactly the keys {sorted(_DEFAULT_CONFIG)}")
    n = cfg["n_features"]
    if not isinstance(n, int) or isinstance(n, bool) or not 2**10 <= n <= 2**22:
        raise ModelFileError("config.n_features must be an integer in [2**10, 2**22]")
    for key, top in (("word_ngram", 3), ("char_ngram", 6)):
        r = cfg[key]
        if (not isinstance(r, list | tuple) or len(r) != 2
                or not all(isinstance(v, int) and not isinstance(v, bool) for v in r)
                or not 1 <= r[0] <= r[1] <= top):
            raise ModelFileError(f"config.{key} must be [lo, hi] with 1 <= lo <= hi <= {top}")
    m = cfg["max_chars"]
    if not isinstance(m, int) or isinstance(m, bool) or not 1 <= m <= 1_000_000:
        raise ModelFileError("config.max_chars must be an integer in [1, 1000000]")
    if not isinstance(cfg["lowercase"], bool):
        raise ModelFileError("config.lowercase must be true or false")
    return {**cfg, "word_ngram": list(cfg["word_ngram"]), "char_ngram": list(cfg["char_ngram"])}


def load(path: str | Path) -> TextClassifier:
    """Load a model written by :meth:`TextClassifier.save`, checking it fully.

    Raises
    ------
    ModelFileError
        The file is too large, not JSON, of another format or version, has a missing or
        malformed field, or its parameters do not match the recorded SHA-256.

    Examples
    --------
    >>> import tempfile, os
    >>> with tempfile.TemporaryDirectory() as d:
    ...     p = os.path.join(d, "m.json")
    ...     _ = open(p, "w").write('{"format": "something-else"}')
    ...     load(p)
    Traceback (most recent call last):
    ...
    detectors.textclf.ModelFileError: ...: format is 'something-else', expected 'postwatch-textclf'

    """
    path = Path(path)
    size = path.stat().st_size
    if size > MAX_MODEL_BYTES:
        raise ModelFileError(f"{path}: {size} bytes, more than the {MAX_MODEL_BYTES} allowed")
    try:
        doc = json.loads(path.read_bytes().decode("utf-8"),
                         parse_constant=lambda name: _reject_constant(name))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelFileError(f"{path}: not a JSON model file ({exc})") from None
    try:
        return _from_doc(doc)
    except ModelFileError as exc:
        raise ModelFileError(f"{path}: {exc}") from None


def _reject_constant(name: str) -> float:
    raise ModelFileError(f"non-finite number {name} in model file")


def _from_doc(doc: object) -> TextClassifier:
    if not isinstance(doc, dict):
        raise ModelFileError("top level must be a JSON object")
    if doc.get("format") != FORMAT:
        raise ModelFileError(f"format is {doc.get('format')!r}, expected {FORMAT!r}")
    if doc.get("version") != VERSION:
        raise ModelFileError(f"version is {doc.get('version')!r}; this postwatch reads "
                             f"version {VERSION}")
    expected = {"format", "version", "config", "intercept", "indices", "values", "n_train",
                "n_positive", "sha256"}
    if set(doc) != expected:
        missing, extra = expected - set(doc), set(doc) - expected
        raise ModelFileError(f"fields differ: missing {sorted(missing)}, unexpected "
                             f"{sorted(extra)}")
    cfg = _check_config(doc["config"])
    n = 2 * int(cfg["n_features"])  # type: ignore[call-overload]
    intercept = doc["intercept"]
    if not isinstance(intercept, int | float) or isinstance(intercept, bool) \
            or not math.isfinite(intercept):
        raise ModelFileError("intercept must be a finite number")
    idx, vals = doc["indices"], doc["values"]
    if not isinstance(idx, list) or not isinstance(vals, list) or len(idx) != len(vals):
        raise ModelFileError("indices and values must be lists of equal length")
    if not all(isinstance(i, int) and not isinstance(i, bool) for i in idx):
        raise ModelFileError("indices must be integers")
    if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in vals):
        raise ModelFileError("values must be numbers")
    ia = np.asarray(idx, dtype=np.int64)
    va = np.asarray(vals, dtype=np.float64)
    if ia.size and (ia.min() < 0 or ia.max() >= n or np.any(np.diff(ia) <= 0)):
        raise ModelFileError(f"indices must be strictly increasing in [0, {n})")
    if not np.all(np.isfinite(va)):
        raise ModelFileError("values must be finite")
    for key in ("n_train", "n_positive"):
        v = doc[key]
        if not isinstance(v, int) or isinstance(v, bool) or v < 0:
            raise ModelFileError(f"{key} must be a non-negative integer")
    coef = np.zeros(n)
    coef[ia] = va
    clf = TextClassifier(config=cfg, coef=coef, intercept=float(intercept),
                         n_train=doc["n_train"], n_positive=doc["n_positive"])
    recorded = doc["sha256"]
    actual = clf.params_sha256()
    if recorded != actual:
        raise ModelFileError(f"parameter hash mismatch: file records {str(recorded)[:16]}..., "
                             f"parameters hash to {actual[:16]}... (file edited or corrupted)")
    return clf


def read_labeled_jsonl(path: str | Path) -> list[tuple[str, bool]]:
    """Read ``{"text": str, "label": true|false|0|1}`` lines into ``(text, label)`` pairs.

    Blank lines are skipped; other keys on a line are ignored. Any bad line stops the read
    with a :class:`LabeledDataError` naming the file, the line number and the reason.

    Examples
    --------
    >>> import tempfile, os
    >>> with tempfile.TemporaryDirectory() as d:
    ...     p = os.path.join(d, "l.jsonl")
    ...     _ = open(p, "w").write('{"text": "a", "label": 1}\\n\\n'
    ...                            '{"text": "b", "label": false}\\n')
    ...     read_labeled_jsonl(p)
    [('a', True), ('b', False)]
    >>> with tempfile.TemporaryDirectory() as d:
    ...     p = os.path.join(d, "l.jsonl")
    ...     _ = open(p, "w").write('{"text": "a", "label": 1}\\n{"text": "b", "label": "yes"}\\n')
    ...     read_labeled_jsonl(p)
    Traceback (most recent call last):
    ...
    detectors.textclf.LabeledDataError: ...l.jsonl:2: label must be true, false, 0 or 1, got 'yes'

    """
    out: list[tuple[str, bool]] = []
    with Path(path).open("rb") as f:
        for lineno, raw in enumerate(f, start=1):
            where = f"{path}:{lineno}"
            if len(raw) > MAX_LINE_BYTES:
                raise LabeledDataError(f"{where}: line is {len(raw)} bytes, more than "
                                       f"{MAX_LINE_BYTES}")
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError:
                raise LabeledDataError(f"{where}: not valid UTF-8") from None
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                raise LabeledDataError(f"{where}: not JSON ({exc.msg})") from None
            if not isinstance(obj, dict):
                raise LabeledDataError(f"{where}: expected a JSON object, got "
                                       f"{type(obj).__name__}")
            if "text" not in obj:
                raise LabeledDataError(f"{where}: missing \"text\"")
            if "label" not in obj:
                raise LabeledDataError(f"{where}: missing \"label\"")
            text, label = obj["text"], obj["label"]
            if not isinstance(text, str):
                raise LabeledDataError(f"{where}: text must be a string, got "
                                       f"{type(text).__name__}")
            if label is True or label is False:
                out.append((text, label))
            elif isinstance(label, int) and label in (0, 1):
                out.append((text, label == 1))
            else:
                raise LabeledDataError(f"{where}: label must be true, false, 0 or 1, got "
                                       f"{label!r}")
    return out
