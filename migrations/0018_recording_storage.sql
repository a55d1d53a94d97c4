-- Recordings in object storage (server/recordings/): where each call's recording is stored
-- (file://<path> or s3://bucket/key), its size, and when and why it was deleted (through
-- the API or by the retention sweep). While recording_path is set and recording_url is not,
-- the recording waits on the instance that made it for its upload.

ALTER TABLE calls
    ADD COLUMN recording_url text,
    ADD COLUMN recording_bytes bigint,
    ADD COLUMN recording_deleted_at timestamptz,
    ADD COLUMN recording_deleted_reason text
        CHECK (recording_deleted_reason IN ('api', 'retention'));

-- Recordings made so far are files in the instance's data directory.
UPDATE calls SET recording_url = 'file://' || recording_path
 WHERE recording_path IS NOT NULL AND ended_at IS NOT NULL;

-- The retention sweep: stored recordings, oldest call first.
CREATE INDEX calls_recording_retention_idx ON calls (ended_at) WHERE recording_url IS NOT NULL;
