-- Billing plans and entitlements (issue 12): each organization's billing period, the usage
-- alerts sent in a period (once per threshold), and an index for minutes used.

-- The current billing period. NULL: the calendar month (UTC). Set (e.g. from a Stripe
-- subscription's current period): that period, rolled forward by whole months once it ends.
ALTER TABLE organizations
    ADD COLUMN billing_period_start timestamptz,
    ADD COLUMN billing_period_end   timestamptz,
    ADD CONSTRAINT organizations_billing_period_check CHECK (
        (billing_period_start IS NULL) = (billing_period_end IS NULL)
        AND (billing_period_end IS NULL OR billing_period_end > billing_period_start));

-- One row per organization, period and threshold (percent of included minutes): the
-- primary key makes the usage.threshold webhook go out once, however many jobs race.
CREATE TABLE usage_alerts (
    organization_id  uuid NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    period_start     timestamptz NOT NULL,
    threshold        smallint NOT NULL CHECK (threshold BETWEEN 1 AND 100),
    minutes_used     bigint NOT NULL,
    included_minutes bigint NOT NULL,
    created_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (organization_id, period_start, threshold)
);

-- Minutes used in a period: the call_seconds records of one organization in a time range
-- (admission on a hard-capped plan reads this once per call).
CREATE INDEX usage_records_call_seconds_idx ON usage_records (organization_id, recorded_at)
    WHERE kind = 'call_seconds';
