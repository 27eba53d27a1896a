from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.config import Config, load_config


def test_precedence_is_file_then_environment_then_flags(tmp_path: Path) -> None:
    f = tmp_path / "pw.toml"
    f.write_text('window_seconds = 30\nworkers = 2\nbroker = "kafka://a:1"\n')
    cfg = load_config(f, env={"POSTWATCH_WORKERS": "3", "POSTWATCH_FDR_Q": "0.05"},
                      overrides={"broker": "kafka://b:2", "store": None})
    assert (cfg.window_seconds, cfg.workers, cfg.fdr_q, cfg.broker) == (30, 3, 0.05, "kafka://b:2")
    assert cfg.store == Config().store


def test_dedup_horizon_defaults_to_lateness_plus_one_hour() -> None:
    assert Config(allowed_lateness_seconds=30).dedup_horizon_ms == 3_630_000
    assert Config(dedup_horizon_seconds=10).dedup_horizon_ms == 10_000


def test_config_round_trips_through_json_for_child_processes() -> None:
    cfg = Config(workers=2, broker="kafka://127.0.0.1:1")
    assert Config.from_json(cfg.to_json()) == cfg


@pytest.mark.parametrize("bad", [{"store_text": "some"}, {"broker": "localhost:9092"},
                                 {"fdr_q": 0.0}])
def test_invalid_settings_are_refused_with_a_message(bad: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        load_config(env={}, overrides=bad)


def test_unknown_keys_in_a_file_are_refused(tmp_path: Path) -> None:
    f = tmp_path / "pw.toml"
    f.write_text("windw_seconds = 30\n")
    with pytest.raises(ValueError, match="windw_seconds"):
        load_config(f, env={})


def test_clickhouse_defaults_to_the_embedded_store(tmp_path: Path) -> None:
    cfg = Config(store=str(tmp_path / "s"))
    assert cfg.clickhouse_dsn() == f"chdb:///{tmp_path / 's'}"
    assert Config(clickhouse="http://u:p@h:8123/db").embedded_store() is False
