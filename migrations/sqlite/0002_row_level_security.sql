-- SQLite has no roles or Row Level Security; pulso enforces agent-only access in its command core.
-- This file keeps the migration history identical to the PostgreSQL one.
SELECT 1;
