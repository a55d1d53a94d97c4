"""Usage per call: STT audio seconds, LLM tokens and TTS characters, by provider.

STT seconds and TTS characters come from pipecat's usage metrics (``MetricsFrame`` with
``STTUsageMetricsData`` / ``TTSUsageMetricsData``, enabled by ``enable_usage_metrics``); LLM
tokens come from the agent session's ``ModelUsage`` events.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from pipecat.metrics.metrics import (
    MetricsData,
    STTUsageMetricsData,
    TTSUsageMetricsData,
)

from pipeline.events import UsageRecord
from runtime.contract import ModelUsage

_SUFFIX = re.compile(r"(sttservice|ttsservice|httpttsservice|service)$")


def provider_from_processor(name: str) -> str:
    """``DeepgramSTTService#3`` → ``deepgram``; ``EspeakTTSService#0`` → ``espeak``."""
    base = name.split("#", 1)[0].lower()
    return _SUFFIX.sub("", base) or base


class UsageTracker:
    """Running totals for one call, keyed by (kind, provider, model)."""

    def __init__(self, labels: Mapping[str, str] | None = None):
        # processor name → provider label, for services whose class name says too little
        self.labels = dict(labels or {})
        self._totals: dict[tuple[str, str, str | None], float] = {}

    def add_metric(self, data: MetricsData) -> bool:
        if isinstance(data, STTUsageMetricsData):
            self._add("stt_seconds", self._provider(data.processor), data.model, data.value.audio_seconds)
            return True
        if isinstance(data, TTSUsageMetricsData):
            self._add("tts_characters", self._provider(data.processor), data.model, float(data.value))
            return True
        return False

    def add_llm(self, usage: ModelUsage) -> None:
        self._add("llm_input_tokens", usage.provider, usage.model, float(usage.input_tokens))
        self._add("llm_output_tokens", usage.provider, usage.model, float(usage.output_tokens))

    def records(self) -> list[UsageRecord]:
        return [
            UsageRecord(kind=kind, provider=provider, model=model, quantity=round(qty, 3))  # type: ignore[arg-type]
            for (kind, provider, model), qty in sorted(
                self._totals.items(), key=lambda item: (item[0][0], item[0][1], item[0][2] or "")
            )
        ]

    def _provider(self, processor: str) -> str:
        return self.labels.get(processor) or provider_from_processor(processor)

    def _add(self, kind: str, provider: str, model: str | None, qty: float) -> None:
        key = (kind, provider, model)
        self._totals[key] = self._totals.get(key, 0.0) + qty
