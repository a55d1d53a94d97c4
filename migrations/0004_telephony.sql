-- Telephony: carrier accounts (encrypted credentials), phone numbers, single-use media
-- stream tokens, and the carrier account a call runs on.

CREATE TABLE carrier_accounts (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    organization_id uuid NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    carrier         text NOT NULL,
    name            text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    -- SecretBox (Fernet) ciphertext of the credentials JSON; never returned by the API
    credentials     bytea NOT NULL,
    -- non-secret identifier shown in listings (account SID, auth id, application id, ...)
    account_hint    text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (id, organization_id)
);
CREATE INDEX carrier_accounts_org_idx ON carrier_accounts (organization_id);

CREATE TABLE phone_numbers (
    id                 uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    organization_id    uuid NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    number             text NOT NULL UNIQUE CHECK (number ~ '^\+[1-9][0-9]{6,14}$'),
    carrier_account_id uuid NOT NULL,
    workflow_id        uuid REFERENCES workflows(id) ON DELETE SET NULL,
    caller_id_allowed  boolean NOT NULL DEFAULT true,
    label              text,
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now(),
    -- the carrier account must belong to the number's organization
    FOREIGN KEY (carrier_account_id, organization_id)
        REFERENCES carrier_accounts (id, organization_id) ON DELETE RESTRICT
);
CREATE INDEX phone_numbers_org_idx ON phone_numbers (organization_id);
CREATE INDEX phone_numbers_account_idx ON phone_numbers (carrier_account_id);

-- Short-lived, single-use tokens that admit one media websocket to one call. Only the
-- SHA-256 of the token is stored; consuming it is one DELETE ... RETURNING.
CREATE TABLE call_stream_tokens (
    token_hash      bytea PRIMARY KEY,
    call_id         uuid NOT NULL REFERENCES calls(id) ON DELETE CASCADE,
    organization_id uuid NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    expires_at      timestamptz NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX call_stream_tokens_expiry_idx ON call_stream_tokens (expires_at);

ALTER TABLE calls
    ADD COLUMN carrier_account_id uuid REFERENCES carrier_accounts(id) ON DELETE SET NULL;
