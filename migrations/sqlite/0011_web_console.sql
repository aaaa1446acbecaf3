-- The web console: sign-in links sent by email, and the sessions they open. Neither table
-- holds a secret a browser presents: only SHA-256 hashes of them, so that reading the
-- database signs no one in.

-- One emailed link each: good once (used_at), for 15 minutes (expires_at). The link carries
-- a random nonce whose hash is kept here.
CREATE TABLE sign_in_requests (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    address    TEXT    NOT NULL,
    nonce_hash TEXT    NOT NULL,
    created_at BIGINT  NOT NULL,
    expires_at BIGINT  NOT NULL,
    used_at    BIGINT  NOT NULL DEFAULT 0
);
CREATE INDEX sign_in_requests_by_expiry ON sign_in_requests (expires_at);

-- A signed-in browser: the hash of its cookie's session id, whose it is, and the secret its
-- forms carry against cross-site requests. It ends after 12 idle hours (last_seen_at), on
-- sign-out, or when its person signs out everywhere.
CREATE TABLE web_sessions (
    id_hash      TEXT    NOT NULL PRIMARY KEY,
    address      TEXT    NOT NULL,
    csrf_secret  TEXT    NOT NULL,
    created_at   BIGINT  NOT NULL,
    last_seen_at BIGINT  NOT NULL
);
CREATE INDEX web_sessions_by_address ON web_sessions (address);
CREATE INDEX web_sessions_by_last_seen ON web_sessions (last_seen_at);
