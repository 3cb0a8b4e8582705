-- Facebook Login from chat. `oauth_states` records each signed `state` the callback accepted, so
-- a link works once; `oauth_page_candidates` keeps the Pages a login returned while the agent picks
-- one in chat (tokens encrypted like agents.page_token_encrypted, bound to the agent).

CREATE TABLE oauth_states (
    nonce       TEXT PRIMARY KEY,
    agent_id    INTEGER NOT NULL REFERENCES agents (id),
    expires_at  TEXT NOT NULL,
    used_at     TEXT NOT NULL
);

CREATE TABLE oauth_page_candidates (
    agent_id          INTEGER NOT NULL REFERENCES agents (id),
    position          INTEGER NOT NULL,
    page_id           TEXT NOT NULL,
    page_name         TEXT NOT NULL,
    token_encrypted   TEXT NOT NULL,
    token_expires_at  TEXT,
    scopes            TEXT NOT NULL DEFAULT '',
    expires_at        TEXT NOT NULL,
    created_at        TEXT NOT NULL,
    PRIMARY KEY (agent_id, position)
);

-- Permissions granted with the current token, comma-separated (from debug_token).
ALTER TABLE agents ADD COLUMN token_scopes TEXT;
