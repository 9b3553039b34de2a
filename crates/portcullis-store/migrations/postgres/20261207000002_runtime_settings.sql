-- Runtime settings an admin changed (`PATCH /api/admin/settings`): the key, its value as
-- JSON, and who set it when. A key without a row has its default from the configuration.
CREATE TABLE settings (
    key         TEXT PRIMARY KEY NOT NULL,
    value       TEXT NOT NULL,
    updated_at  BIGINT NOT NULL,
    updated_by  TEXT
);
