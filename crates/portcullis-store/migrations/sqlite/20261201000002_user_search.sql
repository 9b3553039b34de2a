-- Substring search over email, name and username without reading every user: an FTS5
-- trigram index. users has no INTEGER PRIMARY KEY, so its rowids may change on VACUUM;
-- user_search_keys gives each user a stable integer key for the index instead.
CREATE TABLE user_search_keys (
    key      INTEGER PRIMARY KEY,
    user_id  TEXT NOT NULL UNIQUE REFERENCES users (id) ON DELETE CASCADE
);
CREATE VIRTUAL TABLE user_search USING fts5 (
    email, name, username,
    content = '', contentless_delete = 1, tokenize = 'trigram'
);

CREATE TRIGGER user_search_insert AFTER INSERT ON users BEGIN
    INSERT INTO user_search_keys (user_id) VALUES (new.id);
    INSERT INTO user_search (rowid, email, name, username)
    VALUES ((SELECT key FROM user_search_keys WHERE user_id = new.id),
            new.email, new.name, new.username);
END;

CREATE TRIGGER user_search_update AFTER UPDATE OF email, name, username ON users BEGIN
    DELETE FROM user_search WHERE rowid = (SELECT key FROM user_search_keys WHERE user_id = old.id);
    INSERT INTO user_search (rowid, email, name, username)
    VALUES ((SELECT key FROM user_search_keys WHERE user_id = new.id),
            new.email, new.name, new.username);
END;

-- Before the delete, while the key still exists (it goes with the user, by cascade).
CREATE TRIGGER user_search_delete BEFORE DELETE ON users BEGIN
    DELETE FROM user_search WHERE rowid = (SELECT key FROM user_search_keys WHERE user_id = old.id);
END;

INSERT INTO user_search_keys (user_id) SELECT id FROM users;
INSERT INTO user_search (rowid, email, name, username)
SELECT k.key, u.email, u.name, u.username FROM user_search_keys k JOIN users u ON u.id = k.user_id;
