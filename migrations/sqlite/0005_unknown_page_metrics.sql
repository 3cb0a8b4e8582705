-- Unknown is not zero: a Page metric Facebook has not published yet (or refused) is NULL.
-- SQLite cannot drop NOT NULL in place, so both metric tables are rebuilt with the same rows.
-- Rows written before this migration keep their values (they were read as published).

CREATE TABLE facebook_metrics_daily_new (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    agent_id         INTEGER NOT NULL REFERENCES agents (id),
    date             TEXT NOT NULL,
    followers        INTEGER,
    impressions      INTEGER,
    reach            INTEGER,
    engaged_users    INTEGER,
    posts            INTEGER NOT NULL DEFAULT 0,
    reactions        INTEGER NOT NULL DEFAULT 0,
    comments         INTEGER NOT NULL DEFAULT 0,
    shares           INTEGER NOT NULL DEFAULT 0,
    link_clicks      INTEGER NOT NULL DEFAULT 0,
    whatsapp_clicks  INTEGER NOT NULL DEFAULT 0,
    engagement_rate  REAL,
    fetched_at       TEXT NOT NULL,
    UNIQUE (agent_id, date)
);
INSERT INTO facebook_metrics_daily_new
    SELECT id, agent_id, date, followers, impressions, reach, engaged_users, posts, reactions, comments,
           shares, link_clicks, whatsapp_clicks, engagement_rate, fetched_at
    FROM facebook_metrics_daily;
DROP TABLE facebook_metrics_daily;
ALTER TABLE facebook_metrics_daily_new RENAME TO facebook_metrics_daily;
CREATE INDEX facebook_metrics_daily_agent_date ON facebook_metrics_daily (agent_id, date DESC);
CREATE INDEX facebook_metrics_daily_date_totals ON facebook_metrics_daily
    (date, agent_id, impressions, reach, engaged_users, posts, reactions, comments, shares, link_clicks,
     whatsapp_clicks);

-- Monthly sums: a Page metric's sum is NULL when no day of the month is known, and each Page metric
-- counts its known days, so a Δ % can tell whether two periods know the same number of days.
CREATE TABLE facebook_metrics_monthly_new (
    agent_id         INTEGER NOT NULL REFERENCES agents (id),
    month            TEXT NOT NULL,
    impressions      INTEGER,
    reach            INTEGER,
    engaged_users    INTEGER,
    posts            INTEGER NOT NULL,
    reactions        INTEGER NOT NULL,
    comments         INTEGER NOT NULL,
    shares           INTEGER NOT NULL,
    link_clicks      INTEGER NOT NULL,
    whatsapp_clicks  INTEGER NOT NULL,
    days             INTEGER NOT NULL,
    impressions_days INTEGER NOT NULL DEFAULT 0,
    reach_days       INTEGER NOT NULL DEFAULT 0,
    engaged_days     INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (agent_id, month)
);
INSERT INTO facebook_metrics_monthly_new
    SELECT agent_id, month, impressions, reach, engaged_users, posts, reactions, comments, shares,
           link_clicks, whatsapp_clicks, days, days, days, days
    FROM facebook_metrics_monthly;
DROP TABLE facebook_metrics_monthly;
ALTER TABLE facebook_metrics_monthly_new RENAME TO facebook_metrics_monthly;

-- Insights metrics Facebook refused with (#100): later syncs skip them.
CREATE TABLE refused_metrics (
    metric      TEXT PRIMARY KEY,
    refused_at  TEXT NOT NULL
);
