-- A version published with an API key records the key (published_by is the user, when a
-- user published it).
ALTER TABLE workflow_versions
    ADD COLUMN published_by_api_key uuid REFERENCES api_keys(id) ON DELETE SET NULL;
