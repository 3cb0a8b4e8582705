-- pulso schema, SQLite flavour. Timestamps are RFC 3339 text in UTC written by pulso; dates are
-- 'YYYY-MM-DD' text in the office time zone. History is never deleted.

CREATE TABLE agents (
    id                    INTEGER PRIMARY KEY AUTOINCREMENT,
    name                  TEXT NOT NULL,
    email                 TEXT NOT NULL UNIQUE,
    role                  TEXT NOT NULL DEFAULT 'agent' CHECK (role IN ('agent', 'admin')),
    auth_user_id          TEXT UNIQUE,
    facebook_page_id      TEXT,
    page_token_encrypted  TEXT,
    instagram_account_id  TEXT,
    status                TEXT NOT NULL DEFAULT 'inactive'
                          CHECK (status IN ('active', 'inactive', 'disconnected', 'needs_reconnection')),
    status_reason         TEXT,
    token_expires_at      TEXT,
    token_reminder_sent_at TEXT,
    last_synced_at        TEXT,
    created_at            TEXT NOT NULL,
    updated_at            TEXT NOT NULL
);

CREATE TABLE facebook_metrics_daily (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    agent_id         INTEGER NOT NULL REFERENCES agents (id),
    date             TEXT NOT NULL,
    followers        INTEGER NOT NULL DEFAULT 0,
    impressions      INTEGER NOT NULL DEFAULT 0,
    reach            INTEGER NOT NULL DEFAULT 0,
    engaged_users    INTEGER NOT NULL DEFAULT 0,
    posts            INTEGER NOT NULL DEFAULT 0,
    reactions        INTEGER NOT NULL DEFAULT 0,
    comments         INTEGER NOT NULL DEFAULT 0,
    shares           INTEGER NOT NULL DEFAULT 0,
    link_clicks      INTEGER NOT NULL DEFAULT 0,
    whatsapp_clicks  INTEGER NOT NULL DEFAULT 0,
    engagement_rate  REAL NOT NULL DEFAULT 0,
    fetched_at       TEXT NOT NULL,
    UNIQUE (agent_id, date)
);
CREATE INDEX facebook_metrics_daily_agent_date ON facebook_metrics_daily (agent_id, date DESC);
-- Covers the days at the edges of a team aggregation (the rest comes from monthly rollups).
CREATE INDEX facebook_metrics_daily_date_totals ON facebook_metrics_daily
    (date, agent_id, impressions, reach, engaged_users, posts, reactions, comments, shares, link_clicks,
     whatsapp_clicks);
-- Monthly sums per agent, rewritten from the daily rows on every upsert, so a six-month ranking reads
-- about six rows per agent plus the days at the range's edges instead of 180 daily rows.
CREATE TABLE facebook_metrics_monthly (
    agent_id         INTEGER NOT NULL REFERENCES agents (id),
    month            TEXT NOT NULL,
    impressions      INTEGER NOT NULL,
    reach            INTEGER NOT NULL,
    engaged_users    INTEGER NOT NULL,
    posts            INTEGER NOT NULL,
    reactions        INTEGER NOT NULL,
    comments         INTEGER NOT NULL,
    shares           INTEGER NOT NULL,
    link_clicks      INTEGER NOT NULL,
    whatsapp_clicks  INTEGER NOT NULL,
    days             INTEGER NOT NULL,
    PRIMARY KEY (agent_id, month)
);

CREATE TABLE facebook_posts (
    id                 INTEGER PRIMARY KEY AUTOINCREMENT,
    agent_id           INTEGER NOT NULL REFERENCES agents (id),
    post_id            TEXT NOT NULL,
    created_at         TEXT NOT NULL,
    excerpt            TEXT NOT NULL DEFAULT '',
    permalink          TEXT,
    reactions          INTEGER NOT NULL DEFAULT 0,
    comments           INTEGER NOT NULL DEFAULT 0,
    shares             INTEGER NOT NULL DEFAULT 0,
    link_clicks        INTEGER NOT NULL DEFAULT 0,
    links_to_whatsapp  INTEGER NOT NULL DEFAULT 0,
    fetched_at         TEXT NOT NULL,
    UNIQUE (agent_id, post_id)
);
CREATE INDEX facebook_posts_agent_created ON facebook_posts (agent_id, created_at DESC);

CREATE TABLE sync_jobs (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    kind              TEXT NOT NULL CHECK (kind IN ('daily_auto', 'manual_all', 'manual_single')),
    status            TEXT NOT NULL
                      CHECK (status IN ('pending', 'running', 'paused', 'completed', 'partial', 'failed')),
    agent_id          INTEGER REFERENCES agents (id),
    requested_by      TEXT,
    total_agents      INTEGER NOT NULL DEFAULT 0,
    synced_agents     INTEGER NOT NULL DEFAULT 0,
    failed_agents     INTEGER NOT NULL DEFAULT 0,
    skipped_agents    INTEGER NOT NULL DEFAULT 0,
    api_calls         INTEGER NOT NULL DEFAULT 0,
    error_message     TEXT,
    paused_until      TEXT,
    lease_owner       TEXT,
    lease_expires_at  TEXT,
    fencing_token     INTEGER NOT NULL DEFAULT 0,
    created_at        TEXT NOT NULL,
    started_at        TEXT,
    completed_at      TEXT
);
-- Only one bulk job may be active at a time, across every process sharing the database.
CREATE UNIQUE INDEX sync_jobs_one_active_bulk ON sync_jobs (kind)
    WHERE kind = 'manual_all' AND status IN ('pending', 'running', 'paused');
-- An agent can have at most one active single-agent job.
CREATE UNIQUE INDEX sync_jobs_one_active_single ON sync_jobs (agent_id)
    WHERE kind = 'manual_single' AND status IN ('pending', 'running', 'paused');
CREATE INDEX sync_jobs_created ON sync_jobs (created_at DESC);

-- Per-agent checkpoints of a job: what is done survives a crash, so the job can resume.
CREATE TABLE sync_job_items (
    job_id       INTEGER NOT NULL REFERENCES sync_jobs (id),
    agent_id     INTEGER NOT NULL REFERENCES agents (id),
    status       TEXT NOT NULL CHECK (status IN ('pending', 'running', 'synced', 'failed', 'skipped')),
    attempts     INTEGER NOT NULL DEFAULT 0,
    api_calls    INTEGER NOT NULL DEFAULT 0,
    error        TEXT,
    lease_owner  TEXT,
    lease_expires_at TEXT,
    position     INTEGER NOT NULL DEFAULT 0,
    finished_at  TEXT,
    PRIMARY KEY (job_id, agent_id)
);

CREATE TABLE api_rate_limits (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    hour_window      TEXT NOT NULL UNIQUE,
    calls_made       INTEGER NOT NULL DEFAULT 0,
    max_calls        INTEGER NOT NULL,
    rate_limit_hits  INTEGER NOT NULL DEFAULT 0,
    peak_usage_pct   INTEGER NOT NULL DEFAULT 0,
    updated_at       TEXT NOT NULL,
    CHECK (calls_made <= max_calls)
);

CREATE TABLE chat_identities (
    platform          TEXT NOT NULL CHECK (platform IN ('telegram', 'discord', 'console')),
    platform_user_id  TEXT NOT NULL,
    agent_id          INTEGER NOT NULL REFERENCES agents (id),
    linked_at         TEXT NOT NULL,
    PRIMARY KEY (platform, platform_user_id)
);

CREATE TABLE link_codes (
    code        TEXT PRIMARY KEY,
    agent_id    INTEGER NOT NULL REFERENCES agents (id),
    created_at  TEXT NOT NULL,
    expires_at  TEXT NOT NULL,
    used_at     TEXT,
    used_by     TEXT
);
