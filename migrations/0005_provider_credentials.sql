-- Speech provider credentials per organization (API keys encrypted at rest with SecretBox)
-- and each organization's choice of speech providers.

CREATE TABLE provider_credentials (
    id                 uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    organization_id    uuid NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    provider           text NOT NULL CHECK (length(provider) BETWEEN 1 AND 50),
    api_key_ciphertext bytea NOT NULL,            -- Fernet token; never the plaintext key
    key_hint           text NOT NULL DEFAULT '',  -- last characters, to recognise the key
    base_url           text,
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now(),
    UNIQUE (organization_id, provider)
);

CREATE TABLE organization_provider_settings (
    organization_id uuid PRIMARY KEY REFERENCES organizations(id) ON DELETE CASCADE,
    settings        jsonb NOT NULL,
    updated_at      timestamptz NOT NULL DEFAULT now()
);
