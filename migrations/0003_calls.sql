-- Calls, their transcript turns (with the per-turn latency breakdown), call events
-- (provider failover switches, transfers, DTMF, errors) and usage records.

CREATE TABLE calls (
    id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    organization_id  uuid NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    workflow_id      uuid REFERENCES workflows(id) ON DELETE SET NULL,
    workflow_version integer,          -- NULL for test calls on the draft
    channel          text NOT NULL,    -- webrtc, twilio, telnyx, ...
    direction        text NOT NULL CHECK (direction IN ('inbound', 'outbound', 'browser')),
    from_number      text,
    to_number        text,
    status           text NOT NULL DEFAULT 'queued'
                     CHECK (status IN ('queued', 'ringing', 'in-progress', 'completed', 'busy',
                                       'no-answer', 'failed', 'canceled')),
    carrier          text,
    carrier_call_id  text,
    test             boolean NOT NULL DEFAULT false,
    engine           text,             -- the agent engine: openai, offline-scripted, ...
    started_at       timestamptz NOT NULL DEFAULT now(),
    answered_at      timestamptz,
    ended_at         timestamptz,
    end_reason       text,
    duration_seconds double precision,
    recording_path   text,
    variables        jsonb NOT NULL DEFAULT '{}',
    extracted        jsonb,
    summary          text,
    metadata         jsonb NOT NULL DEFAULT '{}',
    created_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX calls_org_created_idx ON calls (organization_id, created_at DESC, id DESC);
CREATE INDEX calls_org_status_idx ON calls (organization_id, status, created_at DESC);
CREATE INDEX calls_org_workflow_idx ON calls (organization_id, workflow_id, created_at DESC);
CREATE INDEX calls_carrier_call_idx ON calls (carrier, carrier_call_id)
    WHERE carrier_call_id IS NOT NULL;

CREATE TABLE call_turns (
    call_id              uuid NOT NULL REFERENCES calls(id) ON DELETE CASCADE,
    organization_id      uuid NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    idx                  integer NOT NULL CHECK (idx >= 0),
    speaker              text NOT NULL CHECK (speaker IN ('user', 'agent', 'tool')),
    text                 text NOT NULL,
    started_at           timestamptz NOT NULL,
    ended_at             timestamptz NOT NULL,
    interrupted          boolean NOT NULL DEFAULT false,
    node                 text,
    tool                 jsonb,        -- tool turns: name, arguments, result, error
    -- latency breakdown (ms from the end of the caller's speech), on agent answers
    stt_final_ms         real,
    agent_first_token_ms real,
    tts_first_audio_ms   real,
    first_audio_out_ms   real,
    user_bot_ms          real,
    PRIMARY KEY (call_id, idx)
);

CREATE TABLE call_events (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    call_id         uuid NOT NULL REFERENCES calls(id) ON DELETE CASCADE,
    organization_id uuid NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    kind            text NOT NULL,     -- failover, transfer, dtmf, handoff, error, end_requested
    at              timestamptz NOT NULL,
    data            jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX call_events_call_idx ON call_events (call_id, id);

CREATE TABLE usage_records (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    organization_id uuid NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    call_id         uuid NOT NULL REFERENCES calls(id) ON DELETE CASCADE,
    workflow_id     uuid,
    kind            text NOT NULL CHECK (kind IN ('call_seconds', 'stt_seconds',
                         'llm_input_tokens', 'llm_output_tokens', 'tts_characters')),
    provider        text NOT NULL,
    model           text NOT NULL DEFAULT '',
    quantity        double precision NOT NULL CHECK (quantity >= 0),
    recorded_at     timestamptz NOT NULL DEFAULT now(),
    UNIQUE (call_id, kind, provider, model)
);
CREATE INDEX usage_records_org_time_idx ON usage_records (organization_id, recorded_at);
