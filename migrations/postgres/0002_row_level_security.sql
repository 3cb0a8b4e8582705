-- Row Level Security for Supabase: through Supabase auth (role `authenticated`, `auth.uid()`), an
-- agent reads only their own rows and admins read everything. pulso itself connects as the table
-- owner and is not subject to these policies.
--
-- This file must apply on plain PostgreSQL too, where neither the `auth` schema nor the
-- `authenticated` role exists, and must never create or alter anything in `auth` (on Supabase it
-- is not ours). So the helper functions are PL/pgSQL (resolved when called, not when created) and
-- look `auth.uid()` up only if it exists, and the policies are created only where the role exists.

CREATE SCHEMA IF NOT EXISTS pulso_private;

CREATE OR REPLACE FUNCTION pulso_private.current_auth_uid() RETURNS uuid
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
BEGIN
    IF to_regprocedure('auth.uid()') IS NULL THEN
        RETURN NULL;
    END IF;
    RETURN auth.uid();
END
$$;

-- SECURITY DEFINER so the lookup into `agents` does not recurse through the agents policy.
CREATE OR REPLACE FUNCTION pulso_private.current_agent_id() RETURNS bigint
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
BEGIN
    RETURN (SELECT a.id FROM public.agents a WHERE a.auth_user_id = pulso_private.current_auth_uid());
END
$$;

CREATE OR REPLACE FUNCTION pulso_private.current_is_admin() RETURNS boolean
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
BEGIN
    RETURN COALESCE(
        (SELECT a.role = 'admin' FROM public.agents a WHERE a.auth_user_id = pulso_private.current_auth_uid()),
        FALSE);
END
$$;

ALTER TABLE agents ENABLE ROW LEVEL SECURITY;
ALTER TABLE facebook_metrics_daily ENABLE ROW LEVEL SECURITY;
ALTER TABLE facebook_posts ENABLE ROW LEVEL SECURITY;
ALTER TABLE facebook_metrics_monthly ENABLE ROW LEVEL SECURITY;
ALTER TABLE sync_jobs ENABLE ROW LEVEL SECURITY;
ALTER TABLE sync_job_items ENABLE ROW LEVEL SECURITY;
ALTER TABLE api_rate_limits ENABLE ROW LEVEL SECURITY;
ALTER TABLE chat_identities ENABLE ROW LEVEL SECURITY;
ALTER TABLE link_codes ENABLE ROW LEVEL SECURITY;

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'authenticated') THEN
        RAISE NOTICE 'role authenticated not found: Supabase policies skipped (plain PostgreSQL)';
        RETURN;
    END IF;

    GRANT USAGE ON SCHEMA pulso_private TO authenticated;
    GRANT EXECUTE ON FUNCTION pulso_private.current_agent_id() TO authenticated;
    GRANT EXECUTE ON FUNCTION pulso_private.current_is_admin() TO authenticated;

    -- Never the encrypted token: column-level grants on agents.
    REVOKE ALL ON agents FROM authenticated;
    GRANT SELECT (id, name, email, role, facebook_page_id, instagram_account_id, status,
                  status_reason, token_expires_at, last_synced_at, created_at, updated_at)
        ON agents TO authenticated;
    GRANT SELECT ON facebook_metrics_daily, facebook_metrics_monthly, facebook_posts, sync_jobs, api_rate_limits
        TO authenticated;
    REVOKE ALL ON sync_job_items, chat_identities, link_codes FROM authenticated;

    CREATE POLICY agents_read_own_or_admin ON agents FOR SELECT TO authenticated
        USING (id = pulso_private.current_agent_id() OR pulso_private.current_is_admin());
    CREATE POLICY metrics_read_own_or_admin ON facebook_metrics_daily FOR SELECT TO authenticated
        USING (agent_id = pulso_private.current_agent_id() OR pulso_private.current_is_admin());
    CREATE POLICY monthly_read_own_or_admin ON facebook_metrics_monthly FOR SELECT TO authenticated
        USING (agent_id = pulso_private.current_agent_id() OR pulso_private.current_is_admin());
    CREATE POLICY posts_read_own_or_admin ON facebook_posts FOR SELECT TO authenticated
        USING (agent_id = pulso_private.current_agent_id() OR pulso_private.current_is_admin());
    CREATE POLICY sync_jobs_read_admin ON sync_jobs FOR SELECT TO authenticated
        USING (pulso_private.current_is_admin());
    CREATE POLICY api_rate_limits_read_admin ON api_rate_limits FOR SELECT TO authenticated
        USING (pulso_private.current_is_admin());
END
$$;
