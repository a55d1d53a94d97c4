-- The console's call search: full-text search in transcripts. The language-neutral 'simple'
-- configuration (no stemming) works whatever language a call was in. Every query also
-- filters on organization_id (db/call_search.py).

CREATE INDEX call_turns_text_search_idx ON call_turns USING gin (to_tsvector('simple', text));

-- A call's webhook deliveries (call.ended, call.analyzed: the envelope's data.call_id),
-- for the console's call page.
CREATE INDEX webhook_deliveries_call_idx
    ON webhook_deliveries (organization_id, ((payload -> 'data' ->> 'call_id')));
