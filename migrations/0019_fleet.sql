-- The fleet: calls heartbeat from the instance carrying them (a sweeper finalizes the calls
-- of an instance that stopped), chat sessions any instance continues, and the fingerprints
-- of the keys every instance on this database must share.

ALTER TABLE calls ADD COLUMN heartbeat_at timestamptz;
ALTER TABLE calls ADD COLUMN instance_id text;
-- the sweeper's scan: calls not ended, oldest sign of life first
CREATE INDEX calls_unended_idx ON calls ((COALESCE(heartbeat_at, created_at)))
    WHERE ended_at IS NULL;

-- Text chat sessions (POST /api/v1/workflows/{id}/chat): the conversation state, so the next
-- turn may land on any instance. ``revision`` makes concurrent turns on one session conflict
-- instead of overwriting each other.
CREATE TABLE chat_sessions (
    id              text PRIMARY KEY,
    organization_id uuid NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    workflow_id     uuid NOT NULL REFERENCES workflows(id) ON DELETE CASCADE,
    workflow_version integer,
    definition      jsonb NOT NULL,
    variables       jsonb NOT NULL DEFAULT '{}',
    state           jsonb NOT NULL,
    turns           integer NOT NULL DEFAULT 0 CHECK (turns >= 0),
    revision        integer NOT NULL DEFAULT 0,
    created_at      timestamptz NOT NULL DEFAULT now(),
    expires_at      timestamptz NOT NULL
);
CREATE INDEX chat_sessions_org_idx ON chat_sessions (organization_id, expires_at);
CREATE INDEX chat_sessions_expiry_idx ON chat_sessions (expires_at);

-- The keys every instance must share (JWT signing, credentials encryption), by fingerprint:
-- an instance whose key differs refuses to start.
CREATE TABLE fleet_keys (
    purpose     text PRIMARY KEY CHECK (purpose IN ('jwt', 'secrets')),
    fingerprint text NOT NULL,
    recorded_at timestamptz NOT NULL DEFAULT now()
);
