"""`publish` on the real embedded broker: a message the producer refuses does not take the
others down with it."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from pipeline.config import Config
from pipeline.publish import PublishError, publish
from pipeline.runtime import EMBEDDED_MAX_MESSAGE_BYTES, ensure_topics, start_tansu
from pipeline.sink import end_offsets

pytestmark = pytest.mark.integration


def test_an_oversized_message_is_reported_and_the_others_are_delivered(tmp_path: Path) -> None:
    proc, url = start_tansu(log_path=tmp_path / "tansu.log")
    try:
        cfg = Config(broker=url, store=str(tmp_path / "store"), state_dir=str(tmp_path / "s"),
                     partitions=1, control_token="t")
        ensure_topics(cfg, input_max_bytes=EMBEDDED_MAX_MESSAGE_BYTES)
        event = {"event_id": "a", "timestamp": 1_764_000_000_000, "deployment_context": "c",
                 "model": {"name": "m"}, "input": {"text": "hi"}, "output": {"text": "hello"}}
        huge = orjson.dumps({**event, "event_id": "b", "input": {"text": "x" * (17 << 20)}})
        msgs = [(b"c", orjson.dumps(event)), (b"c", huge),
                (b"c", orjson.dumps({**event, "event_id": "c"}))]
        with pytest.raises(PublishError) as caught:
            publish(cfg, msgs, progress=False)
        assert caught.value.delivered == 2
        assert len(caught.value.failed) == 1
        index, why = caught.value.failed[0]
        assert index == 1 and why.startswith("MSG_SIZE_TOO_LARGE")
        assert f"{len(huge):,} bytes" in why
        # the two valid messages are on the input topic
        assert end_offsets(cfg.broker, [cfg.topics.input]) == {f"{cfg.topics.input}:0": 2}
    finally:
        proc.terminate()
        proc.wait(15)
