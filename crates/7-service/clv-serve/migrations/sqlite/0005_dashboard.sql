-- The operator dashboard: users who log in with a password (argon2 hash, never the password),
-- their sessions (only the SHA-256 of the cookie's token is stored, with the token forms must
-- echo against cross-site requests), segments saved by name, and each prediction's RFM segment
-- and value tier.

CREATE TABLE users (
    id INTEGER PRIMARY KEY,
    shop_id BIGINT NOT NULL REFERENCES shops (id),
    email TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('admin', 'write', 'read')),
    created_at BIGINT NOT NULL
);

CREATE TABLE sessions (
    token_sha256 TEXT PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users (id),
    csrf_token TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);

-- A saved segment is its conditions (as `where=` takes them); members are found at read time.
CREATE TABLE saved_segments (
    id INTEGER PRIMARY KEY,
    shop_id BIGINT NOT NULL REFERENCES shops (id),
    name TEXT NOT NULL,
    conditions TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    UNIQUE (shop_id, name)
);

ALTER TABLE predictions ADD COLUMN segment TEXT;
ALTER TABLE predictions ADD COLUMN tier TEXT;
ALTER TABLE score_runs ADD COLUMN metrics TEXT;
