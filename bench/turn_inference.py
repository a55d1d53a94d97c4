"""How Smart Turn inference shares the core with the event loop that paces audio.

    taskset -c 0 python -m bench.turn_inference [--together 1,2,4] [--rounds 10]

Per mode, ``--together`` inferences (turns that end at the same moment, one per call) are
started at once, ``--rounds`` times, while a ticker on the event loop measures its lag (a
2 ms sleep's overshoot: how late the loop would be to send the next 20 ms audio frame):

- ``loop``: inference on the event loop itself;
- ``per-call``: pipecat's way, a thread per analyzer (a thread per call);
- ``shared``: ``pipeline.inference_pool`` (one low-priority thread per core, shared).

It prints per mode the loop lag (p99 / max), the time until the first and the last verdict
of a round, and the CPU time per inference (``time.thread_time`` around it). Run it pinned
to one core, as the server runs in ``make bench``.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from collections.abc import Callable
from concurrent.futures import Executor, ThreadPoolExecutor
from typing import Any

import numpy as np

from pipeline import inference_pool as pool_module
from pipeline.inference_pool import inference_pool
from pipeline.turn_models import SharedSmartTurnAnalyzer

RATE = 16000


def _pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(q / 100 * len(s)))] if s else float("nan")


async def _ticker(lags: list[float], stop: asyncio.Event) -> None:
    while not stop.is_set():
        t = time.perf_counter()
        await asyncio.sleep(0.002)
        lags.append(time.perf_counter() - t - 0.002)


def _timed(predict: Callable[[np.ndarray], Any], cpu: list[float]) -> Callable[[np.ndarray], Any]:
    def run(audio: np.ndarray) -> Any:
        t = time.thread_time()
        out = predict(audio)
        cpu.append(time.thread_time() - t)
        return out

    return run


async def measure(mode: str, together: int, rounds: int) -> dict[str, float]:
    analyzers = [SharedSmartTurnAnalyzer(sample_rate=RATE) for _ in range(together)]
    rng = np.random.default_rng(1)
    audio = (rng.standard_normal(RATE * 3) * 0.05).astype(np.float32)
    cpu: list[float] = []
    own: list[Executor] = [ThreadPoolExecutor(max_workers=1) for _ in analyzers]
    lags: list[float] = []
    first: list[float] = []
    last: list[float] = []
    stop = asyncio.Event()
    ticker = asyncio.create_task(_ticker(lags, stop))
    loop = asyncio.get_running_loop()
    for _ in range(rounds):
        await asyncio.sleep(0.2)
        t0 = time.perf_counter()
        done: list[float] = []

        async def one(i: int, t0: float = t0, done: list[float] = done) -> None:
            run = _timed(analyzers[i]._predict_endpoint, cpu)
            if mode == "loop":
                run(audio)
            else:
                executor = inference_pool() if mode == "shared" else own[i]
                await loop.run_in_executor(executor, run, audio)
            done.append(time.perf_counter() - t0)

        await asyncio.gather(*(one(i) for i in range(together)))
        first.append(min(done))
        last.append(max(done))
    stop.set()
    await ticker
    for ex in own:
        ex.shutdown()
    return {
        "lag_p99_ms": 1000 * _pct(lags, 99),
        "lag_max_ms": 1000 * max(lags),
        "first_verdict_ms": 1000 * statistics.median(first),
        "last_verdict_ms": 1000 * statistics.median(last),
        "cpu_per_inference_ms": 1000 * statistics.median(cpu),
    }


async def main(args: argparse.Namespace) -> None:
    if args.nice is not None:
        pool_module.INFERENCE_NICE = args.nice
    SharedSmartTurnAnalyzer(sample_rate=RATE)._predict_endpoint(np.zeros(RATE, np.float32))  # load
    print("mode      together  loop lag p99 / max (ms)  first / last verdict (ms)  CPU/inference (ms)")
    for together in (int(x) for x in args.together.split(",")):
        for mode in args.modes.split(","):
            r = await measure(mode, together, args.rounds)
            print(
                f"{mode:9s} {together:8d}  {r['lag_p99_ms']:10.1f} / {r['lag_max_ms']:6.1f}"
                f"       {r['first_verdict_ms']:8.1f} / {r['last_verdict_ms']:6.1f}"
                f"          {r['cpu_per_inference_ms']:6.1f}"
            )


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--together", default="1,2,4")
    p.add_argument("--rounds", type=int, default=10)
    p.add_argument("--modes", default="loop,per-call,shared")
    p.add_argument("--nice", type=int, default=None, help="the shared pool's nice (default: INFERENCE_NICE)")
    asyncio.run(main(p.parse_args()))
