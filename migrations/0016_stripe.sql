-- Stripe: an organization's customer and subscription state (billing_accounts), the Stripe
-- webhook events received (stored by id before anything else: a duplicate does nothing),
-- and the meter events sent for each usage record (one per record, ever).

CREATE TABLE billing_accounts (
    organization_id     uuid PRIMARY KEY REFERENCES organizations(id) ON DELETE CASCADE,
    stripe_customer_id  text NOT NULL UNIQUE,
    subscription_id     text,
    subscription_status text,          -- Stripe's: active, trialing, past_due, canceled, ...
    price_id            text,          -- the subscription's base price (names the plan)
    current_period_start timestamptz,
    current_period_end  timestamptz,
    cancel_at_period_end boolean NOT NULL DEFAULT false,
    past_due_since      timestamptz,   -- set when the subscription turned past_due
    updated_at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX billing_accounts_past_due_idx ON billing_accounts (past_due_since)
    WHERE subscription_status = 'past_due';

CREATE TABLE stripe_events (
    id           text PRIMARY KEY,     -- Stripe's event id (evt_...)
    type         text NOT NULL,
    payload      jsonb NOT NULL,
    received_at  timestamptz NOT NULL DEFAULT now(),
    processed_at timestamptz,
    attempts     integer NOT NULL DEFAULT 0,
    last_error   text
);

CREATE TABLE stripe_meter_events (
    usage_record_id uuid PRIMARY KEY REFERENCES usage_records(id) ON DELETE CASCADE,
    organization_id uuid NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    identifier      text NOT NULL UNIQUE,  -- the meter event's identifier at Stripe
    minutes         integer NOT NULL CHECK (minutes >= 0),
    sent_at         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX stripe_meter_events_org_idx ON stripe_meter_events (organization_id, sent_at);
