-- Job queue: priorities, idempotent enqueue, fleet-wide schedules; the call's trace id.

-- Higher runs first (e.g. customer webhooks and meter events above housekeeping); fairness
-- across organizations applies within a priority.
ALTER TABLE jobs ADD COLUMN priority smallint NOT NULL DEFAULT 0;

-- Idempotent enqueue: a second enqueue of the same (kind, dedupe_key) is a no-op while the
-- first job is kept (finished jobs are purged after a week).
ALTER TABLE jobs ADD COLUMN dedupe_key text CHECK (length(dedupe_key) BETWEEN 1 AND 200);
CREATE UNIQUE INDEX jobs_dedupe_idx ON jobs (kind, dedupe_key) WHERE dedupe_key IS NOT NULL;

DROP INDEX jobs_due_idx;
CREATE INDEX jobs_due_idx ON jobs (priority DESC, run_at) WHERE status = 'queued';

-- Periodic jobs run once per interval across the fleet: a worker runs a schedule only when
-- its UPDATE moves next_run_at forward (the row lock makes that one worker per interval).
CREATE TABLE job_schedules (
    name        text PRIMARY KEY CHECK (length(name) BETWEEN 1 AND 200),
    next_run_at timestamptz NOT NULL DEFAULT now(),
    last_run_at timestamptz,
    last_run_by text,
    last_error  text
);

-- The OpenTelemetry trace of the call (32 hex digits), written with the call's row.
ALTER TABLE calls ADD COLUMN trace_id text CHECK (trace_id ~ '^[0-9a-f]{32}$');
