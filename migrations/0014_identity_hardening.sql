-- Identity hardening: refresh-token families with an absolute lifetime, sign-out-everywhere
-- (access tokens carry the user's session_version; bumping it ends every session).

ALTER TABLE refresh_tokens ADD COLUMN family_expires_at timestamptz;
UPDATE refresh_tokens SET family_expires_at = created_at + interval '30 days'
 WHERE family_expires_at IS NULL;
ALTER TABLE refresh_tokens ALTER COLUMN family_expires_at SET NOT NULL;
CREATE INDEX refresh_tokens_user_idx ON refresh_tokens (user_id);

ALTER TABLE users ADD COLUMN session_version integer NOT NULL DEFAULT 0;

CREATE INDEX api_keys_creator_idx ON api_keys (organization_id, created_by);
