"""Producing to the input topic with confluent-kafka (murmur2, like the Java client and Faust)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import orjson
from confluent_kafka import Producer
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


def publish(cfg: Config, messages: Iterable[tuple[bytes | None, bytes]], total: int | None = None,
            progress: bool = True, desc: str = "publishing") -> int:
    """Publish (key, value) pairs to the input topic; returns the number delivered."""
    producer = make_producer(cfg)
    errors: list[Any] = []
    delivered = 0

    def on_delivery(err: Any, _msg: Any) -> None:
        nonlocal delivered
        if err is not None:
            errors.append(err)
        else:
            delivered += 1

    for key, value in tqdm(messages, total=total, desc=desc, unit="msg", disable=not progress,
                           leave=False):
        while True:
            try:
                producer.produce(cfg.topics.input, key=key, value=value, on_delivery=on_delivery)
                break
            except BufferError:
                producer.poll(0.1)
        producer.poll(0)
    producer.flush(60)
    if errors:
        raise RuntimeError(f"{len(errors)} messages were not delivered, first: {errors[0]}")
    return delivered
