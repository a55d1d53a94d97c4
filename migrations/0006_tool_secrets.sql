-- Secrets an organization's HTTP tools send in headers ({{secret.NAME}}), encrypted at rest.

CREATE TABLE tool_secrets (
    organization_id  uuid NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    name             text NOT NULL CHECK (name ~ '^[a-z][a-z0-9_]{0,47}$'),
    value_ciphertext bytea NOT NULL,
    hint             text NOT NULL DEFAULT '',
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (organization_id, name)
);
