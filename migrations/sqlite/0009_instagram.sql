-- Instagram (issue #16): each agent's professional account beside the Facebook Page. Every metric is
-- nullable: a number Instagram has not published (up to 48 h late, or never under 100 followers for
-- new followers) is unknown, never 0. History is never deleted, also when an account is unlinked.

ALTER TABLE agents ADD COLUMN instagram_username TEXT;
-- Instagram's own per-account limit (80002): its calls wait until then, Facebook goes on.
ALTER TABLE agents ADD COLUMN instagram_paused_until TEXT;
-- Why the account cannot be read (e.g. a missing permission), safe to show; NULL when fine.
ALTER TABLE agents ADD COLUMN instagram_problem TEXT;

CREATE TABLE instagram_metrics_daily (
    id                  INTEGER PRIMARY KEY AUTOINCREMENT,
    agent_id            INTEGER NOT NULL REFERENCES agents (id),
    date                TEXT NOT NULL,
    followers           INTEGER,
    new_followers       INTEGER,
    views               INTEGER,
    reach               INTEGER,
    accounts_engaged    INTEGER,
    total_interactions  INTEGER,
    likes               INTEGER,
    comments            INTEGER,
    shares              INTEGER,
    saves               INTEGER,
    profile_links_taps  INTEGER,
    media               INTEGER,
    -- When the day's account insights last came back with data (a day is final once read ≥ 48 h
    -- after it ended); NULL when they never did.
    account_read_at     TEXT,
    fetched_at          TEXT NOT NULL,
    UNIQUE (agent_id, date)
);
CREATE INDEX instagram_metrics_daily_agent_date ON instagram_metrics_daily (agent_id, date DESC);
-- Team days and period totals read every agent's rows of a date range.
CREATE INDEX instagram_metrics_daily_date ON instagram_metrics_daily (date);

-- Media with their lifetime numbers, overwritten by each newer read (they grow).
CREATE TABLE instagram_media (
    id                  INTEGER PRIMARY KEY AUTOINCREMENT,
    agent_id            INTEGER NOT NULL REFERENCES agents (id),
    media_id            TEXT NOT NULL UNIQUE,
    created_at          TEXT NOT NULL,
    kind                TEXT NOT NULL CHECK (kind IN ('post', 'reel', 'carousel')),
    excerpt             TEXT NOT NULL DEFAULT '',
    permalink           TEXT,
    likes               INTEGER,
    comments            INTEGER,
    views               INTEGER,
    reach               INTEGER,
    saves               INTEGER,
    shares              INTEGER,
    total_interactions  INTEGER,
    updated_at          TEXT NOT NULL
);
CREATE INDEX instagram_media_created ON instagram_media (created_at);
CREATE INDEX instagram_media_agent_created ON instagram_media (agent_id, created_at DESC);
