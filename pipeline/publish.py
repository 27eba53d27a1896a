"""Producing to the input topic with confluent-kafka (murmur2, like the Java client and Faust)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import orjson
from confluent_kafka import KafkaException, Producer
from tqdm import tqdm

from pipeline.config import Config


def make_producer(cfg: Config) -> Producer:
    return Producer({
        **cfg.kafka_client_config(),  # bootstrap servers and SASL/TLS
        "partitioner": "murmur2_random",  # same partition as Faust/Java for the same key
        "enable.idempotence": True,
        "linger.ms": 20,
        "compression.type": "lz4",
        # the client-side cap; the broker's topic limit decides (16 MiB on the embedded one)
        "message.max.bytes": 17 * 1024 * 1024,
    })


def key_of(value: bytes) -> bytes | None:
    """Partition key of a raw message: its deployment_context when it has one."""
    try:
        obj = orjson.loads(value)
    except orjson.JSONDecodeError:
        return None
    ctx = obj.get("deployment_context") if isinstance(obj, dict) else None
    return ctx.encode() if isinstance(ctx, str) else None


class PublishError(RuntimeError):
    """Some messages were not delivered; every other one was (``delivered`` of them).
    ``failed`` holds (0-based message index, reason) pairs."""

    def __init__(self, delivered: int, failed: list[tuple[int, str]]) -> None:
        self.delivered = delivered
        self.failed = failed
        first = ", ".join(f"message {i + 1}: {why}" for i, why in failed[:3])
        super().__init__(f"{len(failed)} messages were not delivered ({first}"
                         f"{', ...' if len(failed) > 3 else ''}); {delivered} were")


def publish(cfg: Config, messages: Iterable[tuple[bytes | None, bytes]], total: int | None = None,
            progress: bool = True, desc: str = "publishing") -> int:
    """Publish (key, value) pairs to the input topic; returns the number delivered. A message
    the producer or the broker refuses (too large, say) does not stop the others: they are all
    sent and flushed, then :class:`PublishError` lists what failed."""
    producer = make_producer(cfg)
    failed: list[tuple[int, str]] = []
    delivered = 0

    def on_delivery(index: int) -> Any:
        def done(err: Any, _msg: Any) -> None:
            nonlocal delivered
            if err is not None:
                failed.append((index, str(err.name() if hasattr(err, "name") else err)))
            else:
                delivered += 1
        return done

    for index, (key, value) in enumerate(tqdm(messages, total=total, desc=desc, unit="msg",
                                              disable=not progress, leave=False)):
        while True:
            try:
                producer.produce(cfg.topics.input, key=key, value=value,
                                 on_delivery=on_delivery(index))
                break
            except BufferError:
                producer.poll(0.1)
            except KafkaException as exc:  # refused before sending (e.g. MSG_SIZE_TOO_LARGE)
                err = exc.args[0]
                failed.append((index, f"{err.name()} ({len(value):,} bytes)"))
                break
        producer.poll(0)
    remaining = producer.flush(60)
    if remaining:
        failed.append((-1, f"{remaining} messages still queued after 60 s"))
    if failed:
        raise PublishError(delivered, sorted(failed))
    return delivered
