-- Campaigns: batch outbound calling. A campaign holds its validated configuration
-- (schedule, windows, pacing, retry and voicemail policies, shared variables); its contacts
-- are claimed by any instance's dispatcher (FOR UPDATE SKIP LOCKED); every dial attempt is
-- written, with a unique idempotency key, BEFORE the carrier is asked to dial.
-- The organization's do-not-call list; calls link to their campaign and contact.

CREATE TABLE campaigns (
    id                   uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    organization_id      uuid NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    name                 text NOT NULL,
    workflow_id          uuid NOT NULL REFERENCES workflows(id) ON DELETE RESTRICT,
    state                text NOT NULL DEFAULT 'draft'
                         CHECK (state IN ('draft', 'running', 'paused', 'completed', 'canceled')),
    config               jsonb NOT NULL,       -- server.campaigns.models.CampaignConfig
    caller_ids           text[] NOT NULL,      -- the numbers it calls from (round robin)
    max_concurrent_calls integer NOT NULL CHECK (max_concurrent_calls > 0),
    calls_per_minute     integer NOT NULL CHECK (calls_per_minute > 0),
    time_zone            text NOT NULL,
    started_at           timestamptz,
    finished_at          timestamptz,
    created_at           timestamptz NOT NULL DEFAULT now(),
    updated_at           timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX campaigns_org_created_idx ON campaigns (organization_id, created_at DESC, id DESC);
CREATE INDEX campaigns_running_idx ON campaigns (state) WHERE state = 'running';

CREATE TABLE campaign_contacts (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    organization_id uuid NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    campaign_id     uuid NOT NULL REFERENCES campaigns(id) ON DELETE CASCADE,
    row_number      integer NOT NULL,     -- its line in the import (1-based, header excluded)
    phone_number    text NOT NULL,
    time_zone       text NOT NULL,
    variables       jsonb NOT NULL DEFAULT '{}',
    -- pending → calling → pending (a retry) | completed | voicemail | busy | no-answer |
    -- failed (the last attempt's outcome, retries exhausted) | canceled | opted-out
    state           text NOT NULL DEFAULT 'pending'
                    CHECK (state IN ('pending', 'calling', 'completed', 'voicemail', 'busy',
                                     'no-answer', 'failed', 'canceled', 'opted-out')),
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT '-infinity',
    last_outcome    text,
    finished_at     timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (campaign_id, phone_number)
);
CREATE INDEX campaign_contacts_due_idx ON campaign_contacts (campaign_id, next_attempt_at)
    WHERE state = 'pending';
CREATE INDEX campaign_contacts_list_idx ON campaign_contacts (campaign_id, row_number);

CREATE TABLE campaign_attempts (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    organization_id uuid NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    campaign_id     uuid NOT NULL REFERENCES campaigns(id) ON DELETE CASCADE,
    contact_id      uuid NOT NULL REFERENCES campaign_contacts(id) ON DELETE CASCADE,
    attempt         integer NOT NULL CHECK (attempt > 0),
    idempotency_key text NOT NULL UNIQUE,  -- sent with the carrier's dial request
    call_id         uuid NOT NULL UNIQUE,  -- the call row's id, chosen before admission
    caller_id       text NOT NULL,
    -- dialing: written, the carrier may or may not have been asked; dialed: the carrier
    -- answered with its call id; ended: the outcome is known
    state           text NOT NULL DEFAULT 'dialing'
                    CHECK (state IN ('dialing', 'dialed', 'ended')),
    outcome         text CHECK (outcome IN ('completed', 'voicemail', 'busy', 'no-answer',
                                            'failed')),
    carrier_call_id text,
    lease_until     timestamptz NOT NULL,  -- a dialing attempt is re-sent after this
    dialed_at       timestamptz NOT NULL,  -- the dispatcher clock's time (pacing)
    ended_at        timestamptz,
    UNIQUE (contact_id, attempt)
);
CREATE INDEX campaign_attempts_open_idx ON campaign_attempts (campaign_id, state)
    WHERE state <> 'ended';
CREATE INDEX campaign_attempts_paced_idx ON campaign_attempts (campaign_id, dialed_at);

CREATE TABLE do_not_call (
    organization_id uuid NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    phone_number    text NOT NULL,
    reason          text NOT NULL DEFAULT '',
    source          text NOT NULL DEFAULT 'api' CHECK (source IN ('api', 'opt_out', 'import')),
    created_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (organization_id, phone_number)
);

ALTER TABLE calls
    ADD COLUMN campaign_id uuid REFERENCES campaigns(id) ON DELETE SET NULL,
    ADD COLUMN campaign_contact_id uuid REFERENCES campaign_contacts(id) ON DELETE SET NULL;
CREATE INDEX calls_campaign_idx ON calls (campaign_id) WHERE campaign_id IS NOT NULL;
