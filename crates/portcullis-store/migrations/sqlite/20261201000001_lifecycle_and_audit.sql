-- Link tokens for email verification, password reset and email change: keyed hashes only,
-- at most one live token of each kind per user.
CREATE TABLE one_time_tokens (
    token_hash  TEXT PRIMARY KEY NOT NULL,
    kind        TEXT NOT NULL,
    user_id     TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    email       TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL
);
CREATE UNIQUE INDEX one_time_tokens_user_id_kind_key ON one_time_tokens (user_id, kind);
CREATE INDEX one_time_tokens_expires_at_idx ON one_time_tokens (expires_at);

-- Mail written in the transaction of the change that sends it; payload sealed, cleared once sent.
CREATE TABLE mail_outbox (
    id               TEXT PRIMARY KEY NOT NULL,
    kind             TEXT NOT NULL,
    user_id          TEXT REFERENCES users (id) ON DELETE CASCADE,
    recipient        TEXT NOT NULL,
    payload          TEXT,
    created_at       BIGINT NOT NULL,
    next_attempt_at  BIGINT NOT NULL,
    attempts         INTEGER NOT NULL DEFAULT 0,
    claimed_by       TEXT,
    claimed_until    BIGINT,
    last_error       TEXT,
    sent_at          BIGINT,
    failed_at        BIGINT
);
CREATE INDEX mail_outbox_due_idx ON mail_outbox (next_attempt_at)
    WHERE sent_at IS NULL AND failed_at IS NULL;
CREATE INDEX mail_outbox_user_id_idx ON mail_outbox (user_id);

-- The audit trail keeps bare user ids (no foreign key), so it outlives deleted accounts.
CREATE TABLE audit_events (
    id               TEXT PRIMARY KEY NOT NULL,
    at               BIGINT NOT NULL,
    action           TEXT NOT NULL,
    outcome          TEXT NOT NULL,
    actor_user_id    TEXT,
    subject_user_id  TEXT,
    ip               TEXT,
    user_agent       TEXT,
    request_id       TEXT,
    login_key        TEXT,
    detail           TEXT NOT NULL
);
CREATE INDEX audit_events_at_idx ON audit_events (at, id);
CREATE INDEX audit_events_actor_idx ON audit_events (actor_user_id, at);
CREATE INDEX audit_events_subject_idx ON audit_events (subject_user_id, at);
CREATE INDEX audit_events_action_idx ON audit_events (action, at);

CREATE INDEX users_role_idx ON users (role);
