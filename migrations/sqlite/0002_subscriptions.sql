-- Self-service subscriptions: requests awaiting confirmation or approval, the registry of
-- member organisations, and the event log behind rate limits.

-- Who handed the message in (client IP) and for which of our addresses.
ALTER TABLE messages ADD COLUMN peer TEXT NOT NULL DEFAULT '';
ALTER TABLE messages ADD COLUMN recipient TEXT NOT NULL DEFAULT '';
CREATE INDEX messages_by_kind_state ON messages (kind, state, id);

CREATE TABLE requests (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    list_name  TEXT    NOT NULL,
    kind       TEXT    NOT NULL,
    address    TEXT    NOT NULL,
    language   TEXT    NOT NULL,
    state      TEXT    NOT NULL,
    reason     TEXT    NOT NULL DEFAULT '',
    created_at BIGINT  NOT NULL,
    expires_at BIGINT  NOT NULL,
    updated_at BIGINT  NOT NULL
);
CREATE INDEX requests_by_list ON requests (list_name, state);
CREATE INDEX requests_by_address ON requests (address, list_name, kind, state);

CREATE TABLE organisations (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    name       TEXT    NOT NULL UNIQUE,
    country    TEXT    NOT NULL DEFAULT '',
    region     TEXT    NOT NULL DEFAULT '',
    created_at BIGINT  NOT NULL
);

CREATE TABLE organisation_domains (
    domain          TEXT   PRIMARY KEY,
    organisation_id BIGINT NOT NULL REFERENCES organisations(id) ON DELETE CASCADE
);

CREATE TABLE organisation_contacts (
    address         TEXT   PRIMARY KEY,
    organisation_id BIGINT NOT NULL REFERENCES organisations(id) ON DELETE CASCADE
);

CREATE TABLE rate_events (
    scope TEXT   NOT NULL,
    key   TEXT   NOT NULL,
    at    BIGINT NOT NULL
);
CREATE INDEX rate_events_by_key ON rate_events (scope, key, at);
