-- The encrypted Page tokens leave `agents` for their own table, as on PostgreSQL (where it lives in
-- a schema no Supabase role can read), so both backends share the same SQL.

CREATE TABLE agent_tokens (
    agent_id              INTEGER PRIMARY KEY REFERENCES agents (id),
    page_token_encrypted  TEXT NOT NULL
);
INSERT INTO agent_tokens (agent_id, page_token_encrypted)
    SELECT id, page_token_encrypted FROM agents WHERE page_token_encrypted IS NOT NULL;
ALTER TABLE agents DROP COLUMN page_token_encrypted;
