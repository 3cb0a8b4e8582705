-- Unknown is not zero: a Page metric Facebook has not published yet (or refused) is NULL.
-- Rows written before this migration keep their values (they were read as published).
ALTER TABLE facebook_metrics_daily
    ALTER COLUMN followers DROP NOT NULL, ALTER COLUMN followers DROP DEFAULT,
    ALTER COLUMN impressions DROP NOT NULL, ALTER COLUMN impressions DROP DEFAULT,
    ALTER COLUMN reach DROP NOT NULL, ALTER COLUMN reach DROP DEFAULT,
    ALTER COLUMN engaged_users DROP NOT NULL, ALTER COLUMN engaged_users DROP DEFAULT,
    ALTER COLUMN engagement_rate DROP NOT NULL, ALTER COLUMN engagement_rate DROP DEFAULT;

-- Monthly sums: a Page metric's sum is NULL when no day of the month is known, and each Page metric
-- counts its known days, so a Δ % can tell whether two periods know the same number of days.
ALTER TABLE facebook_metrics_monthly
    ALTER COLUMN impressions DROP NOT NULL,
    ALTER COLUMN reach DROP NOT NULL,
    ALTER COLUMN engaged_users DROP NOT NULL,
    ADD COLUMN impressions_days BIGINT NOT NULL DEFAULT 0,
    ADD COLUMN reach_days BIGINT NOT NULL DEFAULT 0,
    ADD COLUMN engaged_days BIGINT NOT NULL DEFAULT 0;
UPDATE facebook_metrics_monthly SET impressions_days = days, reach_days = days, engaged_days = days;

-- Insights metrics Facebook refused with (#100): later syncs skip them.
CREATE TABLE refused_metrics (
    metric      TEXT PRIMARY KEY,
    refused_at  TIMESTAMPTZ NOT NULL
);
-- No policy: only pulso (the owner) reads it; through Supabase auth it is invisible.
ALTER TABLE refused_metrics ENABLE ROW LEVEL SECURITY;
