-- Sync reliability. `job_subscribers` keeps every chat that asked about a sync job (started it,
-- joined it or queued behind it), so whichever process sees the job end tells each one exactly
-- once, also after a restart. `follower` is the process following the chat's progress message
-- live (it delivers itself); NULL means any process delivers. `sync_jobs.summary_claimed_at`
-- makes the team's completion summary go out once. `sync_job_items.deferred_until` holds back an
-- agent whose Page hit its own rate limit (80001) while the rest of the job continues.

CREATE TABLE job_subscribers (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    job_id        INTEGER NOT NULL REFERENCES sync_jobs (id),
    platform      TEXT NOT NULL CHECK (platform IN ('telegram', 'discord', 'console')),
    chat_id       TEXT NOT NULL,
    requested_by  TEXT NOT NULL,
    follower      TEXT,
    created_at    TEXT NOT NULL,
    delivered_at  TEXT
);
CREATE INDEX job_subscribers_pending ON job_subscribers (job_id) WHERE delivered_at IS NULL;

ALTER TABLE sync_jobs ADD COLUMN summary_claimed_at TEXT;
ALTER TABLE sync_job_items ADD COLUMN deferred_until TEXT;
