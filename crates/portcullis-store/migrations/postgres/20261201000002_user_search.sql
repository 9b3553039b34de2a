-- Substring search over email, name and username without reading every user: a trigram GIN
-- index (pg_trgm ships with PostgreSQL and is trusted, so the database owner may create it)
-- over the three fields as one text, a line each (no field can hold a line break), which is
-- the expression the admin search filters on. The operator class is looked up wherever the
-- extension lives. (Concurrent migrators of one database cannot race on CREATE EXTENSION:
-- sqlx holds an advisory lock on the database while it migrates.)
CREATE EXTENSION IF NOT EXISTS pg_trgm;
DO $$
DECLARE
    ops text := (
        SELECT format('%I.%I', n.nspname, c.opcname)
        FROM pg_opclass c
        JOIN pg_namespace n ON n.oid = c.opcnamespace
        JOIN pg_am a ON a.oid = c.opcmethod
        WHERE c.opcname = 'gin_trgm_ops' AND a.amname = 'gin'
        LIMIT 1
    );
BEGIN
    EXECUTE format(
        $sql$CREATE INDEX users_search_idx ON users USING gin ((lower(email) || E'\n'
             || coalesce(lower(name), '') || E'\n' || coalesce(lower(username), '')) %s)$sql$,
        ops
    );
END
$$;
