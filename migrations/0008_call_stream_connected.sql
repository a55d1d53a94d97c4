-- When a carrier call's media stream connected. Claimed once, atomically, by the first
-- stream: a second stream for the same call is refused, and no new stream token is minted
-- once it is set (a replayed answer webhook gets nothing).
ALTER TABLE calls ADD COLUMN stream_connected_at timestamptz;
