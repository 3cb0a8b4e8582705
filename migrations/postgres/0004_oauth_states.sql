-- Facebook Login from chat. `oauth_states` records each signed `state` the callback accepted, so
-- a link works once; `oauth_page_candidates` keeps the Pages a login returned while the agent picks
-- one in chat (tokens encrypted like agents.page_token_encrypted, bound to the agent).

CREATE TABLE oauth_states (
    nonce       TEXT PRIMARY KEY,
    agent_id    BIGINT NOT NULL REFERENCES agents (id),
    expires_at  TIMESTAMPTZ NOT NULL,
    used_at     TIMESTAMPTZ NOT NULL
);

CREATE TABLE oauth_page_candidates (
    agent_id          BIGINT NOT NULL REFERENCES agents (id),
    position          BIGINT NOT NULL,
    page_id           TEXT NOT NULL,
    page_name         TEXT NOT NULL,
    token_encrypted   TEXT NOT NULL,
    token_expires_at  TIMESTAMPTZ,
    scopes            TEXT NOT NULL DEFAULT '',
    expires_at        TIMESTAMPTZ NOT NULL,
    created_at        TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (agent_id, position)
);

-- Permissions granted with the current token, comma-separated (from debug_token).
ALTER TABLE agents ADD COLUMN token_scopes TEXT;

-- Supabase grants new public tables to its API roles by default: these hold login secrets, so RLS
-- with no policy (nobody but the owner) and no grants.
ALTER TABLE oauth_states ENABLE ROW LEVEL SECURITY;
ALTER TABLE oauth_page_candidates ENABLE ROW LEVEL SECURITY;
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'authenticated') THEN
        REVOKE ALL ON oauth_states, oauth_page_candidates FROM authenticated;
    END IF;
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'anon') THEN
        REVOKE ALL ON oauth_states, oauth_page_candidates FROM anon;
    END IF;
END
$$;
