"""The `postwatch` command line."""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import signal
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click
import orjson

from pipeline.config import Config, load_config


def _config(ctx: click.Context, **overrides: Any) -> Config:
    obj = ctx.find_root().obj
    if obj.get("config_json"):
        cfg = Config.from_json(Path(obj["config_json"]).read_bytes())
        return cfg.with_(**{k: v for k, v in overrides.items() if v is not None}).validate()
    return load_config(obj.get("config_file"), overrides={**obj["overrides"], **overrides})


def _running(cfg: Config) -> Config:
    """For tools that talk to a running `postwatch up` on the embedded broker."""
    if cfg.broker != "embedded":
        return cfg
    path = Path(cfg.state_dir) / "runtime-config.json"
    if not path.exists():
        raise click.ClickException(
            "no running `postwatch up` found (missing "
            f"{path}); start one or pass --broker kafka://host:port")
    return Config.from_json(path.read_bytes())


@contextlib.contextmanager
def _exclusive(cfg: Config) -> Iterator[None]:
    """One `up` or `demo` per state directory, and per embedded store: a second one would
    overwrite the first's runtime files, or find the store locked by the first's sink (and
    remove the file through which `query` reaches it). The locks are the kernel's (flock), so
    a killed process releases them."""
    state = Path(cfg.state_dir)
    state.mkdir(parents=True, exist_ok=True)
    with contextlib.ExitStack() as stack:
        _lock(stack, state / "up.lock", f"with state dir {state}", "--state-dir")
        if cfg.embedded_store():
            store = Path(cfg.store).resolve()
            store.parent.mkdir(parents=True, exist_ok=True)
            _lock(stack, store.with_suffix(".lock"), f"on the embedded store {store}", "--store")
        yield


def _lock(stack: contextlib.ExitStack, path: Path, what: str, option: str) -> None:
    fh = stack.enter_context(open(path, "a+"))  # noqa: SIM115
    try:
        fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        fh.seek(0)
        pid = fh.read().strip() or "?"
        raise click.ClickException(
            f"another postwatch up/demo (pid {pid}) is running {what}; "
            f"stop it or pass another {option}") from None
    fh.seek(0)
    fh.truncate()
    fh.write(str(os.getpid()))
    fh.flush()


def _remember(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
    if value is not None:
        root = ctx.find_root().obj
        key = "config_file" if param.name == "config_file" else None
        if key:
            root[key] = value
        else:
            root["overrides"][param.name] = value
    return value


def common(f: Any) -> Any:
    """The placement options are accepted after the subcommand too (`postwatch query --store`)."""
    for name, help_ in (("--store", "Embedded chdb store directory."),
                        ("--state-dir", "Runtime files and logs."),
                        ("--broker", "'embedded' or kafka://host:port[,host:port]."),
                        ("--clickhouse", "http(s)://user:pass@host:8123/db.")):
        f = click.option(name, expose_value=False, callback=_remember, help=help_)(f)
    return click.option("--config", "config_file", expose_value=False, callback=_remember,
                        type=click.Path(exists=True, dir_okay=False), help="TOML file.")(f)


@click.group()
@click.option("--config", "config_file", type=click.Path(exists=True, dir_okay=False),
              help="TOML file with configuration fields (see README).")
@click.option("--config-json", hidden=True, help="Resolved configuration (set by `up`).")
@click.option("--broker", help="'embedded' (default) or kafka://host:port[,host:port].")
@click.option("--clickhouse", help="http(s)://user:pass@host:8123/db; default: embedded chdb.")
@click.option("--store", help="Embedded chdb store directory (default .postwatch/store).")
@click.option("--state-dir", help="Runtime files and logs (default .postwatch).")
@click.option("-v", "--verbose", count=True)
@click.pass_context
def main(ctx: click.Context, config_file: str | None, config_json: str | None,
         broker: str | None, clickhouse: str | None, store: str | None,
         state_dir: str | None, verbose: int) -> None:
    """postwatch: post-deployment safety monitoring for LLM applications."""
    logging.basicConfig(level=logging.WARNING - 10 * verbose,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    ctx.obj = {"config_file": config_file, "config_json": config_json,
               "overrides": {"broker": broker, "clickhouse": clickhouse, "store": store,
                             "state_dir": state_dir}}


@main.command()
@click.option("--workers", type=int, help="Number of Faust worker processes (default 1).")
@common
@click.pass_context
def up(ctx: click.Context, workers: int | None) -> None:
    """Start the broker (embedded), the workers and the sink; Ctrl-C stops everything."""

    cfg = _config(ctx, workers=workers)
    with _exclusive(cfg):
        _up(cfg)


def _up(cfg: Config) -> None:
    from pipeline.runtime import Supervisor

    sup = Supervisor(cfg)
    stopping = False

    def _stop(*_: Any) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    try:
        running = sup.start()
        info = sup.wait_sink()
        click.echo(f"postwatch up: broker {running.broker}, {running.workers} worker(s), sink "
                   f"-> {running.clickhouse_dsn()}")
        if info:
            click.echo(f"query endpoint {info['query_url']} (postwatch query \"SQL\")")
        click.echo(f"publish to topic '{running.topics.input}'; Ctrl-C to stop")
        while not stopping:
            sup.supervise()
            time.sleep(0.5)
    finally:
        sup.stop()


@main.command()
@click.option("--index", type=int, default=0)
@common
@click.pass_context
def worker(ctx: click.Context, index: int) -> None:
    """Run one Faust worker (normally started by `up`)."""
    from pipeline.app import run_worker

    cfg = _config(ctx)
    if cfg.broker == "embedded":
        raise click.ClickException("a worker needs --broker kafka://host:port")
    run_worker(cfg, index)


@main.command()
@common
@click.pass_context
def sink(ctx: click.Context) -> None:
    """Run the ClickHouse sink (normally started by `up`)."""
    from pipeline.sink import run_sink

    cfg = _config(ctx)
    if cfg.broker == "embedded":
        raise click.ClickException("the sink needs --broker kafka://host:port")
    run_sink(cfg)


def _data_dir(data_dir: str | None) -> Path | None:
    from pipeline.scenario import find_data_dir

    return find_data_dir(data_dir, os.environ)


@main.command()
@click.option("--data-dir", help="Public datasets (default $POSTWATCH_DATA_DIR or ../shared/data).")
@click.option("--seed", type=int, default=1, show_default=True)
@click.option("--minutes", type=int, default=60, show_default=True)
@click.option("--truth", type=click.Path(dir_okay=False), help="Where to write ground truth.")
@common
@click.pass_context
def replay(ctx: click.Context, data_dir: str | None, seed: int, minutes: int,
           truth: str | None) -> None:
    """Replay the demo scenario built from the public datasets into a running pipeline."""
    from pipeline.demo import publish_order
    from pipeline.publish import publish
    from pipeline.scenario import build_demo_scenario

    cfg = _running(_config(ctx))
    now = int(time.time() * 1000)
    start = now - now % 60_000 - (minutes + 2) * 60_000
    scen = build_demo_scenario(_data_dir(data_dir), seed=seed, start_ms=start, minutes=minutes,
                               window_seconds=cfg.window_seconds)
    truth_path = Path(truth or Path(cfg.state_dir) / "ground_truth.jsonl")
    truth_path.write_bytes(b"".join(orjson.dumps(t) + b"\n" for t in scen.truth))
    msgs = publish_order(scen, seed)
    n = publish(cfg, msgs, total=len(msgs), desc="replaying")
    click.echo(f"published {n} messages ({scen.source} data); ground truth in {truth_path}")


@main.command(name="publish")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@common
@click.pass_context
def publish_file(ctx: click.Context, file: str) -> None:
    """Publish schema-v1 JSON lines from FILE (keyed by deployment_context)."""
    from pipeline.publish import PublishError, key_of, publish

    cfg = _running(_config(ctx))
    with open(file, "rb") as fh:
        numbered = [(no, line.rstrip(b"\r\n")) for no, line in enumerate(fh, 1) if line.strip()]
    try:
        n = publish(cfg, ((key_of(v), v) for _, v in numbered), total=len(numbered))
    except PublishError as exc:
        click.echo(f"published {exc.delivered} messages to {cfg.topics.input}; "
                   f"{len(exc.failed)} not delivered:", err=True)
        for index, why in exc.failed[:20]:
            where = f"line {numbered[index][0]}" if index >= 0 else "producer"
            click.echo(f"  {where}: {why}", err=True)
        ctx.exit(1)
    click.echo(f"published {n} messages to {cfg.topics.input}")


@main.command()
@click.option("--data-dir", help="Public datasets (default $POSTWATCH_DATA_DIR or ../shared/data).")
@click.option("--seed", type=int, default=1, show_default=True)
@click.option("--minutes", type=int, default=60, show_default=True)
@click.option("--rate", type=int, default=40, show_default=True,
              help="Events per context x cohort per minute.")
@click.option("--workers", type=int)
@click.option("--summary-json", type=click.Path(dir_okay=False))
@click.option("--no-progress", is_flag=True)
@common
@click.pass_context
def demo(ctx: click.Context, data_dir: str | None, seed: int, minutes: int, rate: int,
         workers: int | None, summary_json: str | None, no_progress: bool) -> None:
    """Run the whole pipeline on the demo scenario and print a summary."""
    from pipeline.demo import DEMO_DEFAULTS, format_summary, run_demo

    obj = ctx.find_root().obj
    defaults = {k: v for k, v in DEMO_DEFAULTS.items()}
    if obj["overrides"].get("store") is None:
        obj["overrides"]["store"] = ".postwatch/demo-store"
    base = load_config(obj.get("config_file"), overrides={**obj["overrides"], "workers": workers})
    cfg = base.with_(**{k: v for k, v in defaults.items()
                        if getattr(base, k) == getattr(Config(), k)})
    with _exclusive(cfg):
        summary = run_demo(cfg, _data_dir(data_dir), seed=seed, minutes=minutes,
                           per_segment_per_minute=rate, progress=not no_progress)
    click.echo(format_summary(summary))
    if summary_json:
        Path(summary_json).write_bytes(orjson.dumps(summary, option=orjson.OPT_INDENT_2))
        click.echo(f"summary written to {summary_json}")


@main.command()
@click.argument("sql")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
@common
@click.pass_context
def query(ctx: click.Context, sql: str, fmt: str) -> None:
    """Run read-only SQL on the store (through the sink while `up` runs)."""
    from pipeline.query import SinkQuery

    cfg = _config(ctx)
    running = Path(cfg.state_dir) / "runtime-config.json"
    if cfg.embedded_store() and not Path(cfg.store).exists() and running.exists():
        cfg = Config.from_json(running.read_bytes())  # the store of the running `up`
    if cfg.embedded_store() and not Path(cfg.store).exists():
        raise click.ClickException(
            f"no store at {cfg.store}; pass --store (the demo writes .postwatch/demo-store)")
    try:
        res = SinkQuery.for_config(cfg).run(sql)
    except Exception as e:
        raise click.ClickException(str(e).splitlines()[0]) from None
    if fmt == "json":
        click.echo(orjson.dumps(res, default=str).decode())
        return
    cols = res["columns"]
    rows = [[str(v) for v in r] for r in res["rows"]]
    widths = [max([len(c)] + [len(r[i]) for r in rows]) for i, c in enumerate(cols)]
    click.echo("  ".join(c.ljust(w) for c, w in zip(cols, widths, strict=True)))
    for r in rows:
        click.echo("  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)))


@main.group()
def baseline() -> None:
    """Freeze or clear the reference that a context's segments are judged against."""


def _time_ms(value: str, option: str = "time") -> int:
    """RFC 3339 with an offset, or epoch milliseconds (2000-01-01 to 2100-01-01)."""
    from pipeline.validate import MIN_TIMESTAMP_MS, parse_rfc3339_ms

    try:
        ms = int(value) if value.isdigit() else parse_rfc3339_ms(value)
    except (ValueError, OverflowError) as exc:
        raise click.BadParameter(f"{value!r} is not RFC 3339 with an offset "
                                 f"(2026-12-04T18:00:00Z) or epoch milliseconds ({exc})",
                                 param_hint=option) from None
    if not MIN_TIMESTAMP_MS <= ms < 4_102_444_800_000:
        hint = " (epoch seconds? multiply by 1000)" if 946_684_800 <= ms < 4_102_444_800 else ""
        raise click.BadParameter(f"{value!r} is outside 2000-01-01..2100-01-01 as epoch "
                                 f"milliseconds{hint}", param_hint=option)
    return ms


def _send_control(cfg: Config, message: dict[str, Any]) -> None:
    from pipeline.publish import make_producer

    producer = make_producer(cfg)
    producer.produce(message["topic"], value=message["value"], partition=message["partition"],
                     headers=message["headers"])
    if producer.flush(30):
        raise click.ClickException("the control message was not delivered")


@baseline.command()
@common
@click.option("--context", "context", required=True)
@click.option("--from", "start", required=True, help="RFC 3339 or epoch ms (inclusive).")
@click.option("--to", "end", required=True, help="RFC 3339 or epoch ms (exclusive).")
@click.pass_context
def freeze(ctx: click.Context, context: str, start: str, end: str) -> None:
    """Use the windows of [FROM, TO) as CONTEXT's reference, per segment."""
    from pipeline.baseline import control_message, merged_summaries
    from pipeline.query import SinkQuery

    period = (_time_ms(start, "--from"), _time_ms(end, "--to"))
    if period[0] >= period[1]:
        raise click.BadParameter(f"--from ({start}) must be before --to ({end})")
    cfg = _running(_config(ctx))
    merged = merged_summaries(SinkQuery.for_config(cfg), cfg, context, *period)
    if not merged:
        raise click.ClickException(f"no closed windows of {context!r} in that period")
    _send_control(cfg, control_message(cfg, context, {k: v for k, (_, v) in merged.items()},
                                       period))
    windows = sum(n for n, _ in merged.values())
    click.echo(f"froze a baseline for {len(merged)} segments of {context} ({windows} windows)")


@baseline.command()
@common
@click.option("--context", "context", required=True)
@click.pass_context
def clear(ctx: click.Context, context: str) -> None:
    """Go back to the trailing reference for CONTEXT."""
    from pipeline.baseline import control_message, segments_of
    from pipeline.query import SinkQuery

    cfg = _running(_config(ctx))
    segments = segments_of(SinkQuery.for_config(cfg), cfg, context)
    _send_control(cfg, control_message(cfg, context, dict.fromkeys(segments, ""), None))
    click.echo(f"cleared the baseline of {len(segments)} segments of {context}")


@main.group()
def alerts() -> None:
    """On-call tools for the anomalies topic."""


@alerts.command()
@common
@click.option("--from-beginning", is_flag=True)
@click.option("--max", "max_alerts", type=int, default=0, help="Stop after N alerts (0: never).")
@click.option("--timeout", type=float, default=0.0, help="Stop after N idle seconds (0: never).")
@click.pass_context
def tail(ctx: click.Context, from_beginning: bool, max_alerts: int, timeout: float) -> None:
    """Print alerts from the anomalies topic as JSON lines."""
    from confluent_kafka import Consumer


    cfg = _running(_config(ctx))
    consumer = Consumer({
        **cfg.kafka_client_config(),  # bootstrap servers and SASL/TLS
        "group.id": f"{cfg.app_id}-alerts-tail-{os.getpid()}",
        "auto.offset.reset": "earliest" if from_beginning else "latest",
        "enable.auto.commit": False,
        "log_level": 3,  # errors only: a tail is not the place for rebalance chatter
    })
    idle_since: list[float] = []  # the idle clock starts once partitions are assigned

    def on_assign(_consumer: Any, _partitions: Any) -> None:
        idle_since[:] = [time.monotonic()]

    consumer.subscribe([cfg.topics.alerts], on_assign=on_assign)
    seen = 0
    try:
        while not (max_alerts and seen >= max_alerts):
            msg = consumer.poll(0.5)
            if msg is None or msg.error():
                if timeout and idle_since and time.monotonic() - idle_since[0] > timeout:
                    break
                continue
            idle_since[:] = [time.monotonic()]
            click.echo(msg.value().decode())
            seen += 1
    finally:
        consumer.close()


@main.command(name="evaluate")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, allow_dash=True))
@click.option("--jobs", type=int, default=0, help="Worker processes (default: one per core).")
@click.option("--no-user-model", is_flag=True,
              help="Ignore a harmful-output model trained into the state directory.")
@common
@click.pass_context
def evaluate_file(ctx: click.Context, file: str, jobs: int, no_user_model: bool) -> None:
    """Evaluate the schema-v1 events of FILE (JSON lines, as `publish` takes) offline.

    Writes one JSON line per valid event to stdout (event_id, refusal, refusal_score,
    over_refusal, jailbreak_score, harmful_request_score, harmful_output_score, pii kinds of
    input and output, truncated); invalid lines are reported on stderr with their line
    number and reason code, and skipped (the exit status is then 1)."""
    from pipeline.offline import evaluate_lines
    from pipeline.windows import OUTPUT_MODEL_FILE, user_output_model

    cfg = _config(ctx)
    model_path = Path(cfg.state_dir) / OUTPUT_MODEL_FILE
    if no_user_model or not model_path.exists():
        click.echo("harmful_output_score: built-in detector", err=True)
    elif (model := user_output_model(cfg.state_dir)) is None:
        click.echo(f"harmful_output_score: built-in detector ({model_path} cannot be read; "
                   "retrain it with `postwatch evaluator train`)", err=True)
    else:
        click.echo(f"harmful_output_score: user-trained model {model_path} "
                   f"(sha256 {model.params_sha256()[:16]})", err=True)
    stream = click.get_binary_stream("stdin") if file == "-" else open(file, "rb")  # noqa: SIM115
    out = click.get_binary_stream("stdout")
    with stream:
        stats = evaluate_lines(stream, out.write, cfg, jobs=jobs or (os.cpu_count() or 1),
                               user_model=not no_user_model,
                               on_error=lambda line, rej: click.echo(
                                   f"line {line}: {rej.reason}: {rej.detail}", err=True))
    out.flush()
    click.echo(f"evaluated {stats['evaluated']} events; {stats['rejected']} lines rejected",
               err=True)
    if stats["rejected"]:
        ctx.exit(1)


@main.group()
def evaluator() -> None:
    """User-trained evaluators (kept in the state directory, never in the repository)."""


MIN_LABELS_PER_CLASS = 10


@evaluator.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--seed", type=int, default=0, show_default=True)
@common
@click.pass_context
def train(ctx: click.Context, file: str, seed: int) -> None:
    """Fit the harmful-output classifier on FILE: JSON lines {"text": ..., "label": true|false}
    (text = a model output, label = harmful). The workers use it in place of the built-in
    harmful-output score from their next batch on."""
    from detectors.textclf import LabeledDataError, read_labeled_jsonl
    from detectors.textclf import train as fit
    from pipeline.windows import OUTPUT_MODEL_FILE

    cfg = _config(ctx)
    try:
        records = read_labeled_jsonl(file)
    except (LabeledDataError, ValueError) as e:
        raise click.ClickException(str(e)) from e
    positives = sum(1 for _, label in records if label)
    if min(positives, len(records) - positives) < MIN_LABELS_PER_CLASS:
        raise click.ClickException(
            f"{file}: {positives} harmful and {len(records) - positives} harmless texts; "
            f"at least {MIN_LABELS_PER_CLASS} of each are needed to train")
    model = fit(records, seed=seed)
    path = Path(cfg.state_dir) / OUTPUT_MODEL_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    replaced = path.exists()
    digest = model.save(path)
    click.echo(f"trained on {len(records)} texts ({positives} harmful); "
               f"{'replaced' if replaced else 'saved'} {path} (sha256 {digest[:16]})")


if __name__ == "__main__":
    sys.exit(main())
