"""One typed configuration object, built from defaults < file < environment < CLI flags.

No other module reads the environment: everything that varies by deployment is a field here,
and processes started by the supervisor receive the resolved object as a JSON file.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import orjson

ENV_PREFIX = "POSTWATCH_"
KAFKA_PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
SASL_MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")
COMPRESSIONS = ("none", "gzip", "snappy", "lz4", "zstd")


@dataclass(frozen=True)
class Topics:
    input: str = "interactions"
    dlq: str = "interactions.dlq"
    evaluated: str = "interactions.evaluated"
    windows: str = "postwatch.windows"
    drift: str = "postwatch.drift"
    alerts: str = "anomalies"

    def outputs(self) -> list[str]:
        """Topics the workers publish and the sink consumes."""
        return [self.dlq, self.evaluated, self.windows, self.drift, self.alerts]


@dataclass(frozen=True)
class Config:
    # where things run
    broker: str = "embedded"  # "embedded" (Tansu started by `postwatch up`) or kafka://host:port[,..]
    clickhouse: str = ""  # "" = chdb:///<store>; or http(s)://user:pass@host:8123/db
    store: str = ".postwatch/store"  # embedded chdb store directory
    state_dir: str = ".postwatch"  # runtime files, worker data dirs, logs
    database: str = "postwatch"
    app_id: str = "postwatch"
    partitions: int = 4
    workers: int = 1
    # Faust table store: memory:// (embedded default) or rocksdb:// (production: rocksdict on
    # disk under state_dir/worker-N; a restarted worker reads only the changelog tail)
    worker_store: str = "memory://"
    # group timeouts (seconds); None = Faust's own defaults. The embedded Tansu needs short ones.
    broker_session_timeout: float | None = None
    broker_heartbeat_interval: float | None = None
    broker_rebalance_timeout: float | None = None
    # event time
    window_seconds: int = 60
    allowed_lateness_seconds: int = 30
    idle_timeout_seconds: float = 10.0
    dedup_horizon_seconds: int | None = None  # default: allowed lateness + 1 hour
    future_tolerance_seconds: int = 86_400
    max_clock_skew_seconds: int = 10  # event time may lead the producer's clock by this much
    control_token: str = ""  # shared by the workers of a deployment; `up` generates one
    # input limits and privacy
    max_event_bytes: int = 256 * 1024
    dlq_max_bytes: int = 64 * 1024
    store_text: str = "redacted"  # none | redacted | full
    max_text_chars: int = 4_000  # stored excerpt length per text field
    max_eval_chars: int = 64_000  # texts are evaluated on this many leading characters
    # segments
    max_cohorts_per_context: int = 50
    max_models_per_context: int = 50
    # judge
    reference_mode: str = "trailing"  # or "hour_of_week": the same hour of the previous week
    reference_block_windows: int = 5  # trailing reference: blocks of this many windows ...
    reference_blocks: int = 6  # ... this many blocks (30 windows); the open block is not used
    reference_adapt_windows: int = 30  # a change lasting this long becomes the reference
    recent_windows: int = 3  # also test the merge of the last N windows (1 = off)
    # early detection (detectors.scan, detectors.judge.interim_judge): a tail scan of each
    # segment's last 32..512 events for rate and mean shifts at every 32nd event, and
    # interim looks at open windows at 32, 64, 128, ... events; scan_alpha is the scan's
    # false-alarm level per chunk of a context
    early_detection: bool = True
    scan_alpha: float = 1e-4
    min_window_events: int = 20
    min_reference_events: int = 200
    fdr_q: float = 0.01
    min_rate_diff: float = 0.005  # a rate finding needs this absolute difference ...
    min_rate_ratio: float = 1.3  # ... and this ratio between the larger and smaller rate
    # numeric findings need Wasserstein / std(reference) at least this: per-event lengths and
    # latencies are heavy-tailed mixtures, and a 40-event window's mix varies a lot
    min_numeric_effect: float = 0.3
    anomaly_windows: int = 24  # robust median/MAD baseline over this many trailing windows
    anomaly_consecutive: int = 2  # breaching windows in a row before an anomaly counts
    # alerts
    silence_timeout_seconds: int = 600  # a context silent this long raises a dead-man alert
    resolve_after_windows: int = 3  # consecutive tested windows without a finding
    alert_cooldown_seconds: int = 3600  # re-notify a firing alert at most this often
    # worker batching
    batch_size: int = 500
    flush_interval_seconds: float = 0.5
    # how long a worker's fetch may wait at the broker for new data (Faust's own: 1,500 ms);
    # short keeps alert latency low on a broker that holds fetches for the full wait
    consumer_fetch_max_wait_ms: int = 100
    # sink
    sink_batch_rows: int = 5_000  # messages per insert batch (also at most a quarter of the buffer)
    sink_flush_seconds: float = 0.5
    # consumed but unwritten messages the sink holds (value + key bytes); when the next one would
    # not fit, the sink pauses its consumer until writes succeed again
    sink_buffer_bytes: int = 32 * 1024 * 1024
    # test-only fault injection, off by default: the sink's "sink:<point>:<n>" entries of a
    # comma-separated list (POSTWATCH_FAULT, also read from the sink's and the workers' own
    # environment); each point SIGKILLs its process once per state_dir
    fault: str = ""
    query_port: int = 0  # 0 = pick a free loopback port
    # Prometheus /metrics (0 = off): worker N serves on metrics_port + N, the sink on its own
    metrics_port: int = 0
    sink_metrics_port: int = 0
    metrics_host: str = "127.0.0.1"  # 0.0.0.0 in a container the scraper reaches from outside
    # Kafka security, passed to the workers (Faust/aiokafka) and every confluent-kafka client
    kafka_security_protocol: str = "PLAINTEXT"  # PLAINTEXT | SSL | SASL_PLAINTEXT | SASL_SSL
    kafka_sasl_mechanism: str = "PLAIN"  # PLAIN | SCRAM-SHA-256 | SCRAM-SHA-512
    kafka_sasl_username: str = ""
    kafka_sasl_password: str = ""  # prefer POSTWATCH_KAFKA_SASL_PASSWORD to a file
    kafka_ssl_cafile: str = ""  # PEM CA bundle; empty = the system's trust store
    kafka_ssl_certfile: str = ""  # client certificate (PEM), for mutual TLS
    kafka_ssl_keyfile: str = ""  # its private key (PEM)
    # ClickHouse over HTTPS (clickhouse = https://user:pass@host:8443/db)
    clickhouse_ca_cert: str = ""  # PEM CA bundle; empty = certifi's
    clickhouse_verify: bool = True  # verify the server certificate
    clickhouse_client_cert: str = ""  # client certificate (PEM), for mutual TLS
    clickhouse_client_key: str = ""
    # the workers' producer (results, changelogs, forwarded events)
    producer_linger_ms: int = 5
    producer_batch_bytes: int = 512 * 1024
    producer_compression: str = "lz4"  # none | gzip | snappy | lz4 | zstd
    producer_idempotence: bool = False  # true in production; the embedded Tansu refuses it
    topics: Topics = field(default_factory=Topics)

    # ---- derived -------------------------------------------------------------------------
    @property
    def dedup_horizon_ms(self) -> int:
        h = self.dedup_horizon_seconds
        if h is None:
            h = self.allowed_lateness_seconds + 3600
        return h * 1000

    @property
    def window_ms(self) -> int:
        return self.window_seconds * 1000

    @property
    def lateness_ms(self) -> int:
        return self.allowed_lateness_seconds * 1000

    def clickhouse_dsn(self) -> str:
        return self.clickhouse or f"chdb:///{Path(self.store).resolve()}"

    def embedded_store(self) -> bool:
        return self.clickhouse_dsn().startswith("chdb:")

    def clickhouse_options(self) -> dict[str, Any]:
        """Keyword arguments of ``clickhouse_connect.get_client`` besides the DSN (TLS)."""
        if self.embedded_store():
            return {}
        opts: dict[str, Any] = {"verify": self.clickhouse_verify}
        for name, key in (("clickhouse_ca_cert", "ca_cert"),
                          ("clickhouse_client_cert", "client_cert"),
                          ("clickhouse_client_key", "client_cert_key")):
            if getattr(self, name):
                opts[key] = getattr(self, name)
        return opts

    def kafka_client_config(self) -> dict[str, Any]:
        """librdkafka (confluent-kafka) settings: bootstrap servers and security."""
        conf: dict[str, Any] = {
            "bootstrap.servers": ",".join(u.removeprefix("kafka://")
                                          for u in self.broker.split(",")),
            "security.protocol": self.kafka_security_protocol.lower(),
        }
        if self.kafka_security_protocol.startswith("SASL"):
            conf.update({"sasl.mechanism": self.kafka_sasl_mechanism,
                         "sasl.username": self.kafka_sasl_username,
                         "sasl.password": self.kafka_sasl_password})
        for name, key in (("kafka_ssl_cafile", "ssl.ca.location"),
                          ("kafka_ssl_certfile", "ssl.certificate.location"),
                          ("kafka_ssl_keyfile", "ssl.key.location")):
            if getattr(self, name):
                conf[key] = getattr(self, name)
        return conf

    def judge_hash(self) -> str:
        """Hash of every setting that changes a verdict: alerts carry it as evidence."""
        keys = ("window_seconds", "allowed_lateness_seconds", "reference_mode",
                "reference_block_windows", "reference_blocks", "reference_adapt_windows",
                "recent_windows", "early_detection", "scan_alpha", "min_window_events",
                "min_reference_events", "fdr_q", "min_rate_diff", "min_rate_ratio",
                "min_numeric_effect",
                "anomaly_windows", "anomaly_consecutive", "resolve_after_windows",
                "alert_cooldown_seconds")
        blob = orjson.dumps({k: getattr(self, k) for k in keys}, option=orjson.OPT_SORT_KEYS)
        return hashlib.sha256(blob).hexdigest()[:16]

    def with_(self, **changes: Any) -> Config:
        return dataclasses.replace(self, **changes)

    def validate(self) -> Config:
        if self.store_text not in ("none", "redacted", "full"):
            raise ValueError(f"store_text must be none, redacted or full, not {self.store_text!r}")
        if self.window_seconds <= 0 or self.partitions <= 0 or self.workers <= 0:
            raise ValueError("window_seconds, partitions and workers must be positive")
        if self.allowed_lateness_seconds < 0:
            raise ValueError("allowed_lateness_seconds must be >= 0")
        if self.reference_mode not in ("trailing", "hour_of_week"):
            raise ValueError("reference_mode must be trailing or hour_of_week")
        if not (0 < self.fdr_q < 1):
            raise ValueError("fdr_q must be in (0, 1)")
        if not (0 < self.scan_alpha < 1):
            raise ValueError("scan_alpha must be in (0, 1)")
        if not 0 < self.max_text_chars <= self.max_eval_chars:
            raise ValueError("max_text_chars must be positive and at most max_eval_chars (the "
                             "stored excerpt must lie inside the redacted, evaluated part)")
        if self.sink_buffer_bytes <= 0 or self.sink_batch_rows <= 0:
            raise ValueError("sink_buffer_bytes and sink_batch_rows must be positive")
        if self.broker != "embedded" and not self.broker.startswith("kafka://"):
            raise ValueError(f"broker must be 'embedded' or kafka://host:port, not {self.broker!r}")
        if self.worker_store not in ("memory://", "rocksdb://"):
            raise ValueError(f"worker_store must be memory:// or rocksdb://, "
                             f"not {self.worker_store!r}")
        if self.kafka_security_protocol not in KAFKA_PROTOCOLS:
            raise ValueError(f"kafka_security_protocol must be one of {', '.join(KAFKA_PROTOCOLS)}")
        if self.kafka_security_protocol.startswith("SASL") and (
                self.kafka_sasl_mechanism not in SASL_MECHANISMS or not self.kafka_sasl_username):
            raise ValueError(f"SASL needs kafka_sasl_username and a kafka_sasl_mechanism of "
                             f"{', '.join(SASL_MECHANISMS)}")
        if bool(self.kafka_ssl_certfile) != bool(self.kafka_ssl_keyfile):
            raise ValueError("kafka_ssl_certfile and kafka_ssl_keyfile go together")
        if self.producer_compression not in COMPRESSIONS:
            raise ValueError(f"producer_compression must be one of {', '.join(COMPRESSIONS)}")
        if self.producer_linger_ms < 0 or self.producer_batch_bytes <= 0:
            raise ValueError("producer_linger_ms must be >= 0 and producer_batch_bytes positive")
        if not 1 <= self.consumer_fetch_max_wait_ms <= 60_000:
            raise ValueError("consumer_fetch_max_wait_ms must be in 1..60000")
        if not (0 <= self.metrics_port < 65536 and 0 <= self.sink_metrics_port < 65536):
            raise ValueError("metrics ports must be in 0..65535 (0 = off)")
        return self

    # ---- (de)serialisation ---------------------------------------------------------------
    def to_json(self) -> bytes:
        return orjson.dumps(dataclasses.asdict(self))

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> Config:
        known = {f.name: f for f in fields(cls)}
        unknown = set(data) - set(known)
        if unknown:
            raise ValueError(f"unknown configuration keys: {sorted(unknown)}")
        kwargs = dict(data)
        if isinstance(kwargs.get("topics"), Mapping):
            kwargs["topics"] = Topics(**kwargs["topics"])
        return cls(**kwargs)

    @classmethod
    def from_json(cls, raw: bytes | str) -> Config:
        return cls.from_mapping(orjson.loads(raw))


def _coerce(value: str, annotation: str) -> Any:
    if "None" in annotation and value.lower() in ("", "none", "null"):
        return None
    if annotation.startswith("bool"):
        if value.lower() not in ("1", "true", "yes", "on", "0", "false", "no", "off"):
            raise ValueError(f"not a boolean: {value!r}")
        return value.lower() in ("1", "true", "yes", "on")
    if annotation.startswith("int"):
        return int(value)
    if annotation.startswith("float"):
        return float(value)
    return value


def load_config(
    file: str | Path | None = None,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> Config:
    """Defaults, then a TOML file, then POSTWATCH_* environment variables, then overrides."""
    data: dict[str, Any] = {}
    if file:
        with open(file, "rb") as fh:
            data.update(tomllib.load(fh))
    env = os.environ if env is None else env
    for f in fields(Config):
        key = ENV_PREFIX + f.name.upper()
        if f.name != "topics" and key in env:
            data[f.name] = _coerce(env[key], str(f.type))
    for k, v in (overrides or {}).items():
        if v is not None:
            data[k] = v
    return Config.from_mapping(data).validate()
