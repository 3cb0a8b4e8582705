-- The tables 0005 and 0006 added (refused_metrics, job_subscribers) follow 0007's rules on
-- Supabase: the API roles keep no write privilege on them or their sequence, and only an admin
-- reads them (they are pulso's bookkeeping, not secrets). Applies on plain PostgreSQL too.
DO $$
DECLARE
    api_role text;
BEGIN
    FOREACH api_role IN ARRAY ARRAY['anon', 'authenticated'] LOOP
        IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = api_role) THEN
            EXECUTE format('REVOKE ALL ON job_subscribers, refused_metrics FROM %I', api_role);
            EXECUTE format('REVOKE ALL ON SEQUENCE %s FROM %I',
                pg_get_serial_sequence('public.job_subscribers', 'id'), api_role);
        END IF;
    END LOOP;

    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'authenticated') THEN
        RETURN;
    END IF;
    GRANT SELECT ON job_subscribers, refused_metrics TO authenticated;
    CREATE POLICY job_subscribers_read_admin ON job_subscribers FOR SELECT TO authenticated
        USING ((SELECT pulso_private.current_is_admin()));
    CREATE POLICY refused_metrics_read_admin ON refused_metrics FOR SELECT TO authenticated
        USING ((SELECT pulso_private.current_is_admin()));
END
$$;
