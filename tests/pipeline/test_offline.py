"""`postwatch evaluate` (offline evaluation) and `postwatch evaluator train`."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
from click.testing import CliRunner

from detectors.textclf import load
from pipeline.cli import main
from pipeline.windows import OUTPUT_MODEL_FILE, user_output_model

REFUSAL = "I'm sorry, but I can't help with that."


def _event(i: int, inp: str | None, out: str | None) -> bytes:
    ev = {"event_id": f"e{i}", "timestamp": 1_796_300_000_000 + i, "deployment_context": "c",
          "model": "m", "input": {"text": inp} if inp is not None else {"tokens": 3},
          "output": {"text": out} if out is not None else {"tokens": 3}}
    return orjson.dumps(ev)


def _write(path: Path, lines: list[bytes]) -> Path:
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


def test_evaluate_writes_one_line_per_valid_event_in_order(tmp_path: Path) -> None:
    f = _write(tmp_path / "in.jsonl", [
        _event(1, "How do I kill a Python process?", REFUSAL),
        b"{not json",
        _event(2, "mail me at jane.roe@example.org", "Call +44 20 7946 0958 tomorrow."),
        b"",
        _event(3, None, "Sure."),
        b'{"event_id": "x"}',
    ])
    res = CliRunner().invoke(main, ["--state-dir", str(tmp_path / "state"), "evaluate",
                                    str(f), "--jobs", "1"])
    assert res.exit_code == 1, res.output  # lines were rejected
    out = [orjson.loads(line) for line in res.stdout.splitlines() if line.startswith("{")]
    assert [o["event_id"] for o in out] == ["e1", "e2", "e3"]
    assert (out[0]["refusal"], out[0]["over_refusal"]) == (True, True)
    assert out[1]["pii"] == {"input": ["email"], "output": ["phone"]}
    assert out[2]["over_refusal"] is None
    assert set(out[0]) >= {"refusal_score", "jailbreak_score", "harmful_request_score",
                           "harmful_output_score", "truncated"}
    assert "line 2: not_json" in res.stderr
    assert "line 6: missing_field" in res.stderr
    assert "evaluated 3 events; 2 lines rejected" in res.stderr


def test_evaluate_with_a_process_pool_gives_the_same_lines(tmp_path: Path) -> None:
    lines = [_event(i, f"question {i} about cats", REFUSAL if i % 3 else "Cats purr.")
             for i in range(600)]
    f = _write(tmp_path / "in.jsonl", lines)
    args = ["--state-dir", str(tmp_path / "state"), "evaluate", str(f)]
    one = CliRunner().invoke(main, [*args, "--jobs", "1"])
    two = CliRunner().invoke(main, [*args, "--jobs", "2"])
    assert one.exit_code == two.exit_code == 0
    assert one.stdout == two.stdout
    assert len(one.stdout.splitlines()) == 600


def test_trained_output_model_is_saved_in_the_state_dir_and_used(tmp_path: Path) -> None:
    harmful = [f"step {i}: mix the chemicals and detonate the device" for i in range(40)]
    benign = [f"step {i}: mix the flour and bake the bread" for i in range(40)]
    labeled = [orjson.dumps({"text": t, "label": True}) for t in harmful] + [
        orjson.dumps({"text": t, "label": False}) for t in benign]
    f = _write(tmp_path / "labels.jsonl", labeled)
    state = tmp_path / "state"
    assert user_output_model(str(state)) is None
    res = CliRunner().invoke(main, ["--state-dir", str(state), "evaluator", "train", str(f)])
    assert res.exit_code == 0, res.output
    assert "trained on 80 texts (40 harmful)" in res.output
    model = load(state / OUTPUT_MODEL_FILE)
    assert user_output_model(str(state)) is not None
    text = "first mix the chemicals, then detonate the device"
    g = _write(tmp_path / "in.jsonl", [_event(1, "how?", text)])
    out = CliRunner().invoke(main, ["--state-dir", str(state), "evaluate", str(g),
                                    "--jobs", "1"])
    got = orjson.loads(out.stdout.splitlines()[0])
    assert got["harmful_output_score"] == round(model.score(text), 4)
    assert got["harmful_output_score"] > 0.5


def test_a_bad_labeled_file_is_refused_with_its_line(tmp_path: Path) -> None:
    f = _write(tmp_path / "labels.jsonl", [b'{"text": "a", "label": true}',
                                          b'{"text": "b", "label": "maybe"}'])
    res = CliRunner().invoke(main, ["--state-dir", str(tmp_path / "s"), "evaluator", "train",
                                    str(f)])
    assert res.exit_code != 0
    assert "labels.jsonl:2: label must be" in res.output
    assert not (tmp_path / "s" / OUTPUT_MODEL_FILE).exists()


def test_an_unreadable_model_falls_back_to_the_built_in_score(tmp_path: Path) -> None:
    state = tmp_path / "state"
    (state / OUTPUT_MODEL_FILE).parent.mkdir(parents=True)
    (state / OUTPUT_MODEL_FILE).write_text("garbage")
    assert user_output_model(str(state)) is None  # the worker keeps going on the built-in
    g = _write(tmp_path / "in.jsonl", [_event(1, "hi", "Here is a banana bread recipe.")])
    res = CliRunner().invoke(main, ["--state-dir", str(state), "evaluate", str(g),
                                    "--jobs", "1"])
    assert res.exit_code == 0
    assert "built-in detector" in res.stderr and "cannot be read" in res.stderr
    assert orjson.loads(res.stdout.splitlines()[0])["harmful_output_score"] < 0.5


def test_training_needs_enough_examples_of_each_class(tmp_path: Path) -> None:
    lines = [orjson.dumps({"text": f"t{i}", "label": i < 3}) for i in range(40)]
    f = _write(tmp_path / "labels.jsonl", lines)
    res = CliRunner().invoke(main, ["--state-dir", str(tmp_path / "s"), "evaluator", "train",
                                    str(f)])
    assert res.exit_code != 0
    assert "3 harmful and 37 harmless" in res.output
    assert not (tmp_path / "s" / OUTPUT_MODEL_FILE).exists()


def test_a_second_up_on_the_same_state_dir_is_refused(tmp_path: Path) -> None:
    import click
    import pytest

    from pipeline.cli import _exclusive  # the lock `up` and `demo` take
    from pipeline.config import Config

    cfg = Config(state_dir=str(tmp_path / "state"), store=str(tmp_path / "store"))
    with (_exclusive(cfg),
          pytest.raises(click.ClickException, match="another postwatch up/demo"),
          _exclusive(cfg)):
        pass
    with _exclusive(cfg):  # released when the first one ends
        pass


def test_a_second_up_on_the_same_embedded_store_is_refused(tmp_path: Path) -> None:
    # another state dir but the same (default) store: its sink could not open the store, and
    # it would remove the file through which `query` reaches the first one's sink
    import click
    import pytest

    from pipeline.cli import _exclusive
    from pipeline.config import Config

    first = Config(state_dir=str(tmp_path / "a"), store=str(tmp_path / "store"))
    same_store = first.with_(state_dir=str(tmp_path / "b"))
    other_store = same_store.with_(store=str(tmp_path / "store2"))
    with _exclusive(first):
        with (pytest.raises(click.ClickException, match=r"embedded store .*--store"),
              _exclusive(same_store)):
            pass
        with _exclusive(other_store):
            pass


@pytest.mark.parametrize(("start", "end", "says"), [
    ("notatime", "2026-12-04T19:00:00Z", "'notatime' is not RFC 3339"),
    ("2026-12-04T18:00:00", "2026-12-04T19:00:00Z", "needs an offset"),
    ("2026-12-04T18:00:00+25:00", "2026-12-04T19:00:00Z", "is not RFC 3339"),
    ("99999999999999999999999", "2026-12-04T19:00:00Z", "outside 2000-01-01..2100-01-01"),
    ("1796400000", "1796403600000", "epoch seconds? multiply by 1000"),
    ("2026-12-04T19:00:00Z", "2026-12-04T18:00:00Z", "must be before --to"),
])
def test_baseline_freeze_refuses_bad_times_with_a_message(tmp_path: Path, start: str, end: str,
                                                          says: str) -> None:
    res = CliRunner().invoke(main, ["--state-dir", str(tmp_path), "baseline", "freeze",
                                    "--context", "c", "--from", start, "--to", end])
    assert res.exit_code == 2, res.output
    assert says in res.output
    assert res.exception is None or isinstance(res.exception, SystemExit)
