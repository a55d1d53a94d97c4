-- The console's call search: full-text search in transcripts. The language-neutral 'simple'
-- configuration (no stemming) works whatever language a call was in. Every query also
-- filters on organization_id (db/call_search.py).

CREATE INDEX call_turns_text_search_idx ON call_turns USING gin (to_tsvector('simple', text));
