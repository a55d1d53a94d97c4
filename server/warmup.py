"""Start-up warm-up: load the speech models before the first call, then freeze the heap.

Loading Silero, Smart Turn, espeak-ng and the PocketSphinx decoder processes at start-up
(in a thread, so the server answers meanwhile) spares the first call a second of silence.
One agent turn through openai-agents/openai against an in-memory transport
(``runtime.warm_up``) spares the first caller turn ~200 ms of lazy set-up; the speech-service
modules the provider factory imports lazily, the egress policy's TLS contexts and the HTTP
text-to-speech sessions spare the first greeting ~300 ms more. Then
``gc.freeze()`` moves the start-up heap (models, modules: ~260k objects) out of the
collector's reach: a full collection otherwise takes 300-450 ms on the event-loop thread
and stalls every live call's audio (measured in BENCHMARKS.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
from collections.abc import AsyncIterator

import structlog

from runtime.egress_aiohttp import holding_shared_aiohttp, shared_aiohttp
from runtime.warm_up import exercise_model_stack
from server.services import Services
from server.settings import Settings

log = structlog.get_logger(__name__)


def _load_models() -> None:
    import numpy as np

    from pipeline import turn_models
    from pipeline.engines import warm_up
    from pipeline.inference_pool import inference_pool
    from pipeline.providers.factory import preload_services

    turn_models.preload()
    # the inference threads started and one Smart Turn prediction run (the first is ~15 ms slower)
    analyzer = turn_models.SharedSmartTurnAnalyzer(sample_rate=16000)
    inference_pool().submit(analyzer._predict_endpoint, np.zeros(16000, np.float32)).result()
    warm_up()
    preload_services()


async def _warm(services: Services) -> None:
    try:
        await asyncio.to_thread(_load_models)
        services.egress.warm()
        for policy in (None, services.egress):  # this loop's HTTP TTS sessions (~30 ms the first)
            shared_aiohttp(policy).session()
        await exercise_model_stack()
    except Exception:
        log.exception("warmup_failed")  # calls still load what they need on first use
    if services.settings.gc_freeze:
        gc.collect()
        gc.freeze()
        log.info("warmup_done", frozen_objects=gc.get_freeze_count())
    else:
        log.info("warmup_done")
    services.warm = True


def inference_threads(settings: Settings) -> int:
    """Smart Turn threads of this process: ``SMART_TURN_THREADS``, else its share of the
    cores among the server's ``WORKERS`` processes."""
    from pipeline.inference_pool import cores

    return settings.smart_turn_threads or max(1, cores() // settings.workers)


@contextlib.asynccontextmanager
async def warmup(services: Services) -> AsyncIterator[None]:
    from pipeline import vad_batch
    from pipeline.inference_pool import configure

    with contextlib.suppress(RuntimeError):  # a second app in this process (tests): as set
        configure(inference_threads(services.settings))
    vad_batch.configure(services.settings.vad_batch_ms / 1000)
    if services.settings.warmup:
        services.spawn(_warm(services), name="warmup")
    else:
        services.warm = True
    async with holding_shared_aiohttp():  # the HTTP TTS sessions, closed by the last app
        yield
