-- Safe on Supabase: nothing pulso creates is writable through the Data API, and nothing secret is
-- readable by any API role.
--
-- * Secrets move to the `pulso_private` schema (not exposed by PostgREST, no table grants): the
--   encrypted Page tokens (out of `agents`, so `select=*` works on it), link codes, OAuth nonces
--   and the Pages a login returned. pulso's connections put `pulso_private` on their search_path.
--   The sqlx migrations table is moved there by pulso before this file runs.
-- * `anon` and `authenticated` lose every grant on pulso's tables and sequences (Supabase grants
--   ALL on new tables in `public` by default), then get SELECT back only where a policy allows it:
--   RLS is not the only barrier, and TRUNCATE (which ignores RLS) is never granted.
-- * Policies as documented: an agent reads their own agent row, daily metrics, monthly rollups,
--   posts and sync jobs (and their job items); an admin reads every table except the secrets;
--   anon reads nothing.
-- * A Supabase user is tied to an agent by e-mail: `current_agent_id()` looks the signed-in user
--   up in `auth.users` (confirmed e-mail) when no agent has their `auth_user_id` yet.
--
-- Applies on plain PostgreSQL too: roles and the `auth` schema are looked up when they exist, and
-- nothing is created or altered in `auth`.

CREATE SCHEMA IF NOT EXISTS pulso_private;

CREATE TABLE pulso_private.agent_tokens (
    agent_id              BIGINT PRIMARY KEY REFERENCES public.agents (id),
    page_token_encrypted  TEXT NOT NULL
);
INSERT INTO pulso_private.agent_tokens (agent_id, page_token_encrypted)
    SELECT id, page_token_encrypted FROM public.agents WHERE page_token_encrypted IS NOT NULL;
ALTER TABLE public.agents DROP COLUMN page_token_encrypted;

ALTER TABLE public.link_codes SET SCHEMA pulso_private;
ALTER TABLE public.oauth_states SET SCHEMA pulso_private;
ALTER TABLE public.oauth_page_candidates SET SCHEMA pulso_private;

-- The agent of the signed-in Supabase user: by `auth_user_id`, else by the user's confirmed e-mail
-- in `auth.users` when exactly one agent without a Supabase user has it. SECURITY DEFINER, so the
-- lookups neither recurse through the agents policy nor need grants on `auth.users`.
CREATE OR REPLACE FUNCTION pulso_private.current_agent_id() RETURNS bigint
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
DECLARE
    uid uuid := pulso_private.current_auth_uid();
    found_id bigint;
    user_email text;
BEGIN
    IF uid IS NULL THEN
        RETURN NULL;
    END IF;
    SELECT a.id INTO found_id FROM public.agents a WHERE a.auth_user_id = uid;
    IF found_id IS NOT NULL THEN
        RETURN found_id;
    END IF;
    IF to_regclass('auth.users') IS NULL THEN
        RETURN NULL;
    END IF;
    EXECUTE 'SELECT u.email::text FROM auth.users u WHERE u.id = $1 AND u.email_confirmed_at IS NOT NULL'
        INTO user_email USING uid;
    IF user_email IS NULL THEN
        RETURN NULL;
    END IF;
    SELECT a.id INTO found_id FROM public.agents a
        WHERE a.auth_user_id IS NULL AND lower(a.email) = lower(user_email);
    RETURN found_id;
END
$$;

CREATE OR REPLACE FUNCTION pulso_private.current_is_admin() RETURNS boolean
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
BEGIN
    RETURN COALESCE(
        (SELECT a.role = 'admin' FROM public.agents a WHERE a.id = pulso_private.current_agent_id()),
        FALSE);
END
$$;

ALTER TABLE sync_job_items ENABLE ROW LEVEL SECURITY;
ALTER TABLE chat_identities ENABLE ROW LEVEL SECURITY;
ALTER TABLE alerts ENABLE ROW LEVEL SECURITY;
ALTER TABLE alert_silences ENABLE ROW LEVEL SECURITY;
ALTER TABLE pulso_private.agent_tokens ENABLE ROW LEVEL SECURITY;

DROP POLICY IF EXISTS agents_read_own_or_admin ON agents;
DROP POLICY IF EXISTS metrics_read_own_or_admin ON facebook_metrics_daily;
DROP POLICY IF EXISTS monthly_read_own_or_admin ON facebook_metrics_monthly;
DROP POLICY IF EXISTS posts_read_own_or_admin ON facebook_posts;
DROP POLICY IF EXISTS sync_jobs_read_admin ON sync_jobs;
DROP POLICY IF EXISTS api_rate_limits_read_admin ON api_rate_limits;

DO $$
DECLARE
    api_role text;
    seq text;
BEGIN
    -- The API roles keep nothing on pulso's tables and sequences; no Supabase role (service_role
    -- included) keeps anything on the secrets. A later migration that creates a table in `public`
    -- must revoke the same way: Supabase's default privileges grant it to anon and authenticated.
    FOREACH api_role IN ARRAY ARRAY['anon', 'authenticated', 'service_role'] LOOP
        IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = api_role) THEN
            IF api_role <> 'service_role' THEN
                EXECUTE format('REVOKE ALL ON agents, facebook_metrics_daily, facebook_metrics_monthly, '
                    'facebook_posts, sync_jobs, sync_job_items, api_rate_limits, chat_identities, alerts, '
                    'alert_silences FROM %I', api_role);
                FOREACH seq IN ARRAY ARRAY['agents', 'facebook_metrics_daily', 'facebook_posts', 'sync_jobs',
                        'api_rate_limits', 'alerts', 'alert_silences'] LOOP
                    EXECUTE format('REVOKE ALL ON SEQUENCE %s FROM %I',
                        pg_get_serial_sequence('public.' || seq, 'id'), api_role);
                END LOOP;
            END IF;
            EXECUTE format('REVOKE ALL ON ALL TABLES IN SCHEMA pulso_private FROM %I', api_role);
            EXECUTE format('REVOKE ALL ON ALL SEQUENCES IN SCHEMA pulso_private FROM %I', api_role);
        END IF;
    END LOOP;
    REVOKE ALL ON FUNCTION pulso_private.current_auth_uid() FROM PUBLIC;
    REVOKE ALL ON FUNCTION pulso_private.current_agent_id() FROM PUBLIC;
    REVOKE ALL ON FUNCTION pulso_private.current_is_admin() FROM PUBLIC;

    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'authenticated') THEN
        RAISE NOTICE 'role authenticated not found: Supabase policies skipped (plain PostgreSQL)';
        RETURN;
    END IF;

    GRANT USAGE ON SCHEMA pulso_private TO authenticated;
    GRANT EXECUTE ON FUNCTION pulso_private.current_agent_id() TO authenticated;
    GRANT EXECUTE ON FUNCTION pulso_private.current_is_admin() TO authenticated;

    GRANT SELECT ON agents, facebook_metrics_daily, facebook_metrics_monthly, facebook_posts, sync_jobs,
        sync_job_items, api_rate_limits, chat_identities, alerts, alert_silences TO authenticated;

    CREATE POLICY agents_read_own_or_admin ON agents FOR SELECT TO authenticated
        USING (id = (SELECT pulso_private.current_agent_id()) OR (SELECT pulso_private.current_is_admin()));
    CREATE POLICY metrics_read_own_or_admin ON facebook_metrics_daily FOR SELECT TO authenticated
        USING (agent_id = (SELECT pulso_private.current_agent_id()) OR (SELECT pulso_private.current_is_admin()));
    CREATE POLICY monthly_read_own_or_admin ON facebook_metrics_monthly FOR SELECT TO authenticated
        USING (agent_id = (SELECT pulso_private.current_agent_id()) OR (SELECT pulso_private.current_is_admin()));
    CREATE POLICY posts_read_own_or_admin ON facebook_posts FOR SELECT TO authenticated
        USING (agent_id = (SELECT pulso_private.current_agent_id()) OR (SELECT pulso_private.current_is_admin()));
    CREATE POLICY sync_jobs_read_own_or_admin ON sync_jobs FOR SELECT TO authenticated
        USING (agent_id = (SELECT pulso_private.current_agent_id()) OR (SELECT pulso_private.current_is_admin()));
    CREATE POLICY sync_job_items_read_own_or_admin ON sync_job_items FOR SELECT TO authenticated
        USING (agent_id = (SELECT pulso_private.current_agent_id()) OR (SELECT pulso_private.current_is_admin()));
    CREATE POLICY api_rate_limits_read_admin ON api_rate_limits FOR SELECT TO authenticated
        USING ((SELECT pulso_private.current_is_admin()));
    CREATE POLICY chat_identities_read_admin ON chat_identities FOR SELECT TO authenticated
        USING ((SELECT pulso_private.current_is_admin()));
    CREATE POLICY alerts_read_admin ON alerts FOR SELECT TO authenticated
        USING ((SELECT pulso_private.current_is_admin()));
    CREATE POLICY alert_silences_read_admin ON alert_silences FOR SELECT TO authenticated
        USING ((SELECT pulso_private.current_is_admin()));
END
$$;
