-- Audit log: who changed what in an organization (keys, members, credentials, carrier
-- accounts, workflows published/rolled back, plan changes, calls placed through the API).

CREATE TABLE audit_log (
    id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    organization_id  uuid NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    actor_user_id    uuid REFERENCES users(id) ON DELETE SET NULL,
    actor_api_key_id uuid REFERENCES api_keys(id) ON DELETE SET NULL,
    action           text NOT NULL CHECK (length(action) BETWEEN 1 AND 64),
    target_type      text NOT NULL DEFAULT '',
    target_id        text NOT NULL DEFAULT '',
    details          jsonb NOT NULL DEFAULT '{}'::jsonb,
    ip               text,
    created_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX audit_log_org_created_idx ON audit_log (organization_id, created_at DESC, id DESC);
