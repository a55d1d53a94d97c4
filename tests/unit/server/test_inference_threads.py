"""Each worker process of a ``WORKERS=N`` server gets its share of the cores for Smart Turn
inference (N processes each sized to every core ran up to N inferences per core at once)."""

from __future__ import annotations

from pipeline.inference_pool import cores
from server.settings import Settings
from server.warmup import inference_threads


def _settings(**values: object) -> Settings:
    return Settings(redis_url="redis://127.0.0.1:6379/0", **values)  # type: ignore[arg-type]


def test_workers_share_the_cores() -> None:
    assert inference_threads(_settings()) == cores()
    assert inference_threads(_settings(workers=2)) == max(1, cores() // 2)
    assert inference_threads(_settings(workers=64)) == 1  # never none


def test_setting_overrides_the_share() -> None:
    assert inference_threads(_settings(workers=4, smart_turn_threads=3)) == 3
