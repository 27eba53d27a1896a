"""Prometheus metrics of the workers and the sink (``prometheus_client``), served on
``/metrics`` when ``metrics_port`` (worker N: that port + N) or ``sink_metrics_port`` is set.

Worker (updated by the worker after each flush, and its lag by its timer):

* ``postwatch_events_in_total``: input messages (not control ticks) the worker has applied;
* ``postwatch_events_valid_total``, ``postwatch_late_events_total``,
  ``postwatch_duplicate_events_total``, ``postwatch_rerouted_events_total``: of those, valid
  (published to ``interactions.evaluated``), late (their window had closed: stored, counted),
  duplicates (dropped), forwarded to their context's partition;
* ``postwatch_dead_letters_total{reason}``: dead-lettered, by reason code;
* ``postwatch_windows_closed_total``, ``postwatch_alerts_total{status}``;
* ``postwatch_windows_open{partition}``: open (segment, window) pairs held in state;
* ``postwatch_consumer_lag{partition}``: messages on the input partition not yet applied;
* ``postwatch_flush_seconds``: histogram of a batch's processing, publishing and state write.

Every counter is per process (a restarted worker starts from zero, which Prometheus' ``rate``
and ``increase`` handle); after a crash, the events the worker replays are counted again in
``events_in`` and not in the others (their outputs were already published).

Sink (read from the sink's own fields at scrape time, so its loop does no extra work):
``postwatch_sink_buffer_messages`` and ``_bytes`` (queue depth), ``postwatch_sink_paused``,
``postwatch_sink_retries_total``, ``postwatch_sink_pauses_total``,
``postwatch_sink_rows_written_total{table}``, ``postwatch_sink_rejected_rows_total``,
``postwatch_sink_bad_messages_total``, ``postwatch_sink_batches_committed_total``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

FLUSH_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class WorkerMetrics:
    """The metrics of one worker process, in a registry of their own."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = r = registry if registry is not None else CollectorRegistry()
        self.events_in = Counter("postwatch_events_in", "Input messages applied (control "
                                 "ticks excluded)", registry=r)
        self.valid = Counter("postwatch_events_valid", "Valid events applied and published",
                             registry=r)
        self.late = Counter("postwatch_late_events", "Events whose window had closed (stored, "
                            "counted as late)", registry=r)
        self.duplicates = Counter("postwatch_duplicate_events", "Re-sent event ids dropped",
                                  registry=r)
        self.rerouted = Counter("postwatch_rerouted_events", "Events forwarded to their "
                                "context's partition", registry=r)
        self.dead = Counter("postwatch_dead_letters", "Messages dead-lettered, by reason",
                            ["reason"], registry=r)
        self.windows_closed = Counter("postwatch_windows_closed", "Segment windows closed",
                                      registry=r)
        self.alerts = Counter("postwatch_alerts", "Alerts published, by status", ["status"],
                              registry=r)
        self.seeks = Counter("postwatch_input_seeks", "Times the consumer was sought back over "
                             "offsets it had not delivered", registry=r)
        self.windows_open = Gauge("postwatch_windows_open", "Open (segment, window) pairs",
                                  ["partition"], registry=r)
        self.lag = Gauge("postwatch_consumer_lag", "Input messages not yet applied",
                         ["partition"], registry=r)
        self.flush_seconds = Histogram("postwatch_flush_seconds", "Batch processing, publishing "
                                       "and state write", buckets=FLUSH_BUCKETS, registry=r)

    def observe_batch(self, events_in: int, outputs: Any, counts_before: Mapping[str, int],
                      counts_after: Mapping[str, int], seconds: float) -> None:
        """One flushed batch: ``outputs`` as published (:class:`pipeline.windows.Outputs`),
        the partition meta's counters before and after it."""
        self.events_in.inc(events_in)
        self.valid.inc(len(outputs.evaluated))
        self.late.inc(sum(1 for rec in outputs.evaluated if rec.get("late")))
        for name, counter in (("duplicate", self.duplicates), ("rerouted", self.rerouted)):
            counter.inc(max(0, counts_after.get(name, 0) - counts_before.get(name, 0)))
        for dl in outputs.dead_letters:
            self.dead.labels(dl["reason"]).inc()
        self.windows_closed.inc(len(outputs.windows))
        for alert in outputs.alerts:
            self.alerts.labels(alert["status"]).inc()
        self.flush_seconds.observe(seconds)

    def forget_partition(self, partition: int) -> None:
        for gauge in (self.windows_open, self.lag):
            with contextlib.suppress(KeyError):
                gauge.remove(str(partition))


def open_windows(meta: Mapping[str, Any] | None, segment: Any) -> int:
    """Open (segment, window) pairs of a partition: ``segment(key)`` returns a segment's
    decoded state (or None)."""
    if not meta:
        return 0
    n = 0
    for ctx in meta["contexts"].values():
        for key in ctx["open"]:
            value = segment(key)
            n += len(value["windows"]) if value else 0
    return n


class SinkCollector(Collector):
    """Reads a :class:`pipeline.sink.Sink`'s fields when scraped."""

    def __init__(self, sink: Any) -> None:
        self.sink = sink

    def collect(self) -> Iterator[Any]:
        s = self.sink
        yield GaugeMetricFamily("postwatch_sink_buffer_messages",
                                "Consumed, not yet written messages (queue depth)",
                                value=len(s.buffer))
        yield GaugeMetricFamily("postwatch_sink_buffer_bytes", "Bytes those messages hold",
                                value=s.buffer_bytes)
        yield GaugeMetricFamily("postwatch_sink_paused", "1 while consumption is paused "
                                "(buffer full)", value=int(s.paused))
        for name, help_, value in (
                ("retries", "Failed ClickHouse write attempts (each followed by a backoff)",
                 s.retries),
                ("pauses", "Times consumption paused because the buffer was full", s.pauses),
                ("rejected_rows", "Rows set aside in sink_rejects", s.rejected),
                ("bad_messages", "Result messages that could not be decoded", s.bad_messages),
                ("batches_committed", "Batches written and their offsets committed",
                 s.batches_committed)):
            yield CounterMetricFamily(f"postwatch_sink_{name}", help_, value=value)
        rows = CounterMetricFamily("postwatch_sink_rows_written", "Rows inserted, by table",
                                   labels=["table"])
        for table, n in list(s.rows_written.items()):
            rows.add_metric([table], n)
        yield rows


def sink_registry(sink: Any) -> CollectorRegistry:
    registry = CollectorRegistry()
    registry.register(SinkCollector(sink))
    return registry


def serve_metrics(registry: CollectorRegistry, host: str, port: int) -> Any:
    """Serve ``registry`` on http://host:port/metrics from a daemon thread; returns the
    server (``server_port`` is the bound port, also when ``port`` is 0)."""
    server, _thread = start_http_server(port, addr=host, registry=registry)
    return server


def scrape(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Parse an exposition: (sample name, sorted labels) -> value."""
    from prometheus_client.parser import text_string_to_metric_families

    out: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


def total(samples: Mapping[tuple[str, tuple[tuple[str, str], ...]], float], name: str,
          **labels: str) -> float:
    """Sum of the samples of ``name`` whose labels include ``labels``."""
    want: Iterable[tuple[str, str]] = labels.items()
    return sum(v for (n, lab), v in samples.items()
               if n == name and set(want) <= set(lab))
