-- Alerts with Alertmanager semantics: one row per incident (a fingerprint firing from start to end),
-- so the history of incidents is kept; at most one firing row per fingerprint. Silences are
-- time-boxed mutes created with /silenciar.

CREATE TABLE alerts (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    fingerprint       TEXT NOT NULL,
    rule              TEXT NOT NULL,
    family            TEXT NOT NULL,
    labels            TEXT NOT NULL DEFAULT '{}',
    severity          TEXT NOT NULL CHECK (severity IN ('info', 'warning', 'urgent', 'critical')),
    summary           TEXT NOT NULL,
    details           TEXT NOT NULL DEFAULT '',
    state             TEXT NOT NULL CHECK (state IN ('firing', 'resolved')),
    starts_at         TEXT NOT NULL,
    -- When the condition last stopped holding while firing; NULL while it holds.
    cleared_at        TEXT,
    ends_at           TEXT,
    notified_at       TEXT,
    last_chat_at      TEXT,
    chat_count        INTEGER NOT NULL DEFAULT 0,
    last_email_at     TEXT,
    email_count       INTEGER NOT NULL DEFAULT 0,
    resolved_sent_at  TEXT,
    updated_at        TEXT NOT NULL
);
CREATE UNIQUE INDEX alerts_one_firing ON alerts (fingerprint) WHERE state = 'firing';
CREATE INDEX alerts_starts ON alerts (starts_at DESC);

CREATE TABLE alert_silences (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    matcher     TEXT NOT NULL,
    created_by  TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    ends_at     TEXT NOT NULL
);
CREATE INDEX alert_silences_ends ON alert_silences (ends_at);
