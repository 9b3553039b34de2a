-- Identities at social sign-in providers. An identity belongs to at most one user, and a
-- user has at most one identity per provider.
CREATE TABLE oauth_accounts (
    id                TEXT PRIMARY KEY NOT NULL,
    user_id           TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    provider          TEXT NOT NULL,
    provider_user_id  TEXT NOT NULL,
    email             TEXT,
    created_at        BIGINT NOT NULL
);
CREATE UNIQUE INDEX oauth_accounts_identity_key ON oauth_accounts (provider, provider_user_id);
CREATE UNIQUE INDEX oauth_accounts_user_provider_key ON oauth_accounts (user_id, provider);

-- Social sign-ins under way, before anyone need be signed in: the state's keyed hash, the
-- keyed hash of the cookie that binds it to the browser that started it, the PKCE verifier
-- and nonce (sealed), where to go after, and for a link or re-authentication the session
-- that asked. Taken (deleted) by the callback, so each works once.
CREATE TABLE oauth_states (
    state_hash    TEXT PRIMARY KEY NOT NULL,
    binding_hash  TEXT NOT NULL,
    provider      TEXT NOT NULL,
    secrets       TEXT NOT NULL,
    redirect_to   TEXT NOT NULL,
    transport     TEXT NOT NULL,
    intent        TEXT NOT NULL,
    session_id    TEXT REFERENCES sessions (id) ON DELETE CASCADE,
    created_at    BIGINT NOT NULL,
    expires_at    BIGINT NOT NULL
);
CREATE INDEX oauth_states_expires_at_idx ON oauth_states (expires_at);
CREATE INDEX oauth_states_session_id_idx ON oauth_states (session_id);

-- When the session last proved its user again through a provider (an account without a
-- password does so where a password would be asked).
ALTER TABLE sessions ADD COLUMN reauthenticated_at BIGINT;
