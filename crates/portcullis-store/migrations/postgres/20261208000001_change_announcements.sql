-- Announcements for the nodes' caches of who is signed in: every change to a user, and
-- every change to a session that can end it or change what it may do, is announced on the
-- channel of this schema when its transaction commits, whoever wrote it.
--
-- Not announced, on purpose: new rows (nobody holds a copy yet), a session's last_seen_at
-- (it moves at every refresh; a copy is checked against its own, and copies are re-read
-- every 30 s), and deleted sessions (only ended sessions are pruned, and their end was
-- announced; a deleted user's sessions go with the user, who is announced).
CREATE FUNCTION portcullis_announce_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify(
        'portcullis_changes:' || TG_TABLE_SCHEMA,
        CASE TG_TABLE_NAME WHEN 'users' THEN 'u:' ELSE 's:' END || OLD.id
    );
    RETURN NULL;
END
$$;

CREATE TRIGGER users_announce AFTER UPDATE OR DELETE ON users
    FOR EACH ROW EXECUTE FUNCTION portcullis_announce_change();

CREATE TRIGGER sessions_announce AFTER UPDATE ON sessions
    FOR EACH ROW
    WHEN (OLD.revoked_at IS DISTINCT FROM NEW.revoked_at
          OR OLD.expires_at IS DISTINCT FROM NEW.expires_at
          OR OLD.reauthenticated_at IS DISTINCT FROM NEW.reauthenticated_at
          OR OLD.user_id IS DISTINCT FROM NEW.user_id
          OR OLD.token_hash IS DISTINCT FROM NEW.token_hash)
    EXECUTE FUNCTION portcullis_announce_change();
