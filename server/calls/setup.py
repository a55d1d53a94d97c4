"""Everything a call needs before its pipeline starts: agent session, speech providers,
where the recording goes. Keys come from the organization's stored credentials, then the environment;
with no keys at all the call runs on the offline engines and the offline scripted model.

``load_call_providers`` and ``load_tool_secrets`` (what an organization brings to a call)
are shared with the text chat route.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from uuid import UUID

import structlog
from pydantic import ValidationError

from db import billing as billing_db
from db import provider_credentials as creds_db
from db import tool_secrets as secrets_db
from db import workflows as workflows_db
from pipeline.providers import (
    ProviderCredentials,
    ProviderSettings,
    resolve_credentials,
)
from pipeline.providers.config import (
    STTChoice,
    TTSChoice,
    effective_stt,
    effective_tts,
    language_problems,
)
from pipeline.spec import CallSpec
from runtime.languages import LanguageProblem, idle_prompt
from runtime.models import ModelConfig, model_config_for
from runtime.offline_understanding import caller_phrases
from runtime.sessions import create_session
from runtime.workflow import CallSettings, ServiceChoice, Workflow
from server.billing.catalog import Feature
from server.recordings.policy import should_record

if TYPE_CHECKING:
    from server.calls.admission import CallHandle
    from server.services import Services

log = structlog.get_logger(__name__)


async def load_call_providers(
    services: Services, organization_id: UUID
) -> tuple[ProviderSettings, ProviderCredentials]:
    """An organization's provider settings and resolved credentials, for building a call.

    Credentials: the organization's stored keys first, then the server's environment
    (``DEEPGRAM_API_KEY``, ...); providers with no key anywhere run on the offline engine.
    The plan decides too: without ``bring_your_own_keys`` stored keys are not used, without
    ``cloud_providers`` no key is (offline engines only).
    """
    async with services.db.acquire() as conn:
        stored_settings = await creds_db.get_settings(conn, organization_id)
        stored = await creds_db.load_decrypted(conn, organization_id, services.secret_box)
        state = await billing_db.billing_state(conn, organization_id)
    plan = services.plans.get(state["plan"] if state else "")
    if not plan.has(Feature.BRING_YOUR_OWN_KEYS):
        stored = {}
    settings = (
        ProviderSettings.model_validate(stored_settings) if stored_settings else ProviderSettings()
    )
    if not plan.has(Feature.CLOUD_PROVIDERS):
        return settings, ProviderCredentials(egress=services.egress)
    return settings, resolve_credentials(stored, services.settings, egress=services.egress)


async def load_tool_secrets(services: Services, organization_id: UUID) -> dict[str, str]:
    """An organization's tool secrets, decrypted, for ``create_session(secrets=...)``."""
    return await secrets_db.load_decrypted(services.db, organization_id, services.secret_box)


def model_config(workflow: Workflow | None, credentials: ProviderCredentials) -> ModelConfig:
    """The LLM behind the agent: the workflow's choice when its key exists, else offline."""
    return model_config_for(workflow.settings.llm if workflow else ServiceChoice(),
                            credentials.openai, egress=credentials.egress)


def workflow_providers(providers: ProviderSettings, call: CallSettings | None) -> ProviderSettings:
    """The organization's speech providers with the workflow's own choices laid over them.

    A workflow naming an STT or TTS provider (``settings.stt`` / ``settings.tts``) gets it
    for its calls; the organization's fallbacks still apply. Unknown names are left to the
    organization's choice (workflow validation reports them).
    """
    if call is None:
        return providers
    update: dict[str, object] = {}
    if call.stt.provider:
        try:
            update["stt"] = STTChoice(provider=call.stt.provider, model=call.stt.model)  # type: ignore[arg-type]
        except ValidationError:
            log.warning("workflow_stt_provider_unknown", provider=call.stt.provider)
    if call.tts.provider:
        try:
            update["tts"] = TTSChoice(provider=call.tts.provider,  # type: ignore[arg-type]
                                      voice=call.tts.voice or call.voice, model=call.tts.model)
        except ValidationError:
            log.warning("workflow_tts_provider_unknown", provider=call.tts.provider)
    return providers.model_copy(update=update) if update else providers


def call_language(handle: CallHandle, call: CallSettings | None) -> str:
    """The language a call runs in: its own (an outbound call's or WebRTC offer's
    ``language``, kept on the call row), else its workflow's."""
    return handle.language or (call.language if call else CallSettings().language)


def idle_prompts(call: CallSettings | None, language: str) -> list[str]:
    """The workflow's idle prompts, else "Are you still there?" in the call's language."""
    if call is None:
        return []
    if call.idle_prompts is not None:
        return list(call.idle_prompts)
    return [idle_prompt(language)]


async def language_problem(services: Services, organization_id: UUID, workflow_id: UUID,
                           language: str, *, draft: bool = False) -> str | None:
    """Why a call of ``workflow_id`` cannot run in ``language`` (a per-call override), or None:
    the speech providers it would run on (the workflow's, else the organization's, offline
    without a key) with their models and voices, each checked against the language."""
    pinned = await workflows_db.definition_for_call(services.db, organization_id, workflow_id,
                                                    draft=draft)
    if pinned is None:
        return None  # admission answers 404
    try:
        call = Workflow.model_validate(pinned[0]).settings
    except ValidationError:
        return None  # an invalid draft is refused by admission / the session
    problems = await speech_language_problems(services, organization_id, call, language)
    return "; ".join(problem.message for problem in problems) or None


async def speech_language_problems(services: Services, organization_id: UUID,
                                   call: CallSettings, language: str) -> list[LanguageProblem]:
    """What the speech providers a call would run on cannot do in ``language``: the
    workflow's choices over the organization's, offline where no key exists."""
    providers, credentials = await load_call_providers(services, organization_id)
    chosen = workflow_providers(providers, call).in_language(language)
    chosen = chosen.model_copy(update={"stt": effective_stt(chosen.stt, credentials),
                                       "tts": effective_tts(chosen.tts, credentials)})
    return [problem for _, problem in language_problems(chosen)]


async def build_spec(
    services: Services, handle: CallHandle, *, audio_in_sample_rate: int, audio_out_sample_rate: int
) -> CallSpec:
    org = handle.organization_id
    providers, credentials = await load_call_providers(services, org)
    definition = handle.definition or {}
    workflow = Workflow.model_validate(definition) if definition else None
    call_settings = workflow.settings if workflow else None
    language = call_language(handle, call_settings)
    session = create_session(
        definition,
        variables=dict(handle.variables),
        model=model_config(workflow, credentials),
        workflow_id=str(handle.workflow_id) if handle.workflow_id else None,
        version=handle.workflow_version,
        secrets=await load_tool_secrets(services, org),
        egress=services.egress,
        language=language,
    )
    providers = workflow_providers(providers, call_settings).in_language(language)
    record = should_record(handle, call_settings)
    spec = CallSpec(
        call_id=str(handle.call_id),
        organization_id=str(org),
        channel=handle.channel,
        audio_in_sample_rate=audio_in_sample_rate,
        audio_out_sample_rate=audio_out_sample_rate,
        agent=session,
        providers=providers,
        credentials=credentials,
        record_path=services.recordings.spool_path(org, handle.call_id) if record else None,
        max_duration_secs=float(call_settings.max_duration_seconds) if call_settings else None,
        user_idle_timeout_secs=call_settings.idle_timeout_seconds if call_settings else None,
        idle_prompts=idle_prompts(call_settings, language),
        vocabulary=tuple(caller_phrases(workflow)) if workflow else (),
    )
    if call_settings:
        spec.apply_turn_settings(call_settings.turn)
        spec.tool_filler = call_settings.tool_filler
    return spec
