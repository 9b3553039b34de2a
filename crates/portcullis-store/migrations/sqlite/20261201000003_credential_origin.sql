-- Whether a password hash came from another system (`users import`), which hashed the
-- password as typed, or from this server, which hashes its NFKC form: only that one form is
-- verified. Hashes of other schemes can only have been imported.
ALTER TABLE credentials ADD COLUMN imported BOOLEAN NOT NULL DEFAULT FALSE;
UPDATE credentials SET imported = TRUE WHERE scheme <> 'argon2id';
