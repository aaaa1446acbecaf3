-- Times are epoch milliseconds (BIGINT) in both schemas: sqlx's Any driver cannot decode
-- PostgreSQL TIMESTAMPTZ, and one code path serves both databases.

CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE members (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    address      TEXT    NOT NULL UNIQUE,
    display_name TEXT    NOT NULL DEFAULT '',
    language     TEXT    NOT NULL DEFAULT 'en',
    created_at   BIGINT  NOT NULL
);

CREATE TABLE subscriptions (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    list_name  TEXT    NOT NULL,
    member_id  BIGINT  NOT NULL REFERENCES members(id),
    status     TEXT    NOT NULL DEFAULT 'active',
    created_at BIGINT  NOT NULL,
    UNIQUE (list_name, member_id)
);

CREATE TABLE messages (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    list_name     TEXT    NOT NULL,
    kind          TEXT    NOT NULL,
    state         TEXT    NOT NULL,
    envelope_from TEXT    NOT NULL,
    message_id    TEXT    NOT NULL DEFAULT '',
    raw           BLOB    NOT NULL,
    decorated     BLOB,
    error         TEXT    NOT NULL DEFAULT '',
    received_at   BIGINT  NOT NULL,
    updated_at    BIGINT  NOT NULL
);
CREATE INDEX messages_by_state ON messages (state, id);

CREATE TABLE deliveries (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    message_id      BIGINT  NOT NULL REFERENCES messages(id),
    list_name       TEXT    NOT NULL,
    member_id       BIGINT,
    recipient       TEXT    NOT NULL,
    state           TEXT    NOT NULL,
    attempts        BIGINT  NOT NULL DEFAULT 0,
    -- When the row is next due: the next attempt for pending and deferred rows, the end of
    -- the claim's lease for sending rows. One ordered column keeps claiming a short index
    -- range scan however long the queue.
    next_attempt_at BIGINT  NOT NULL,
    claimed_by      TEXT    NOT NULL DEFAULT '',
    last_reply      TEXT    NOT NULL DEFAULT '',
    created_at      BIGINT  NOT NULL,
    updated_at      BIGINT  NOT NULL
);
CREATE INDEX deliveries_due ON deliveries (next_attempt_at, id)
    WHERE state IN ('pending', 'deferred', 'sending');
CREATE INDEX deliveries_by_list ON deliveries (list_name, state);
