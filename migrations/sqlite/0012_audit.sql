-- The audit trail: every decision taken on a list, a publication or their people, by whom
-- and through which channel (web, email, cli, or the schedule itself). Rows are only ever
-- added; the console shows them newest first, a list's own to its owners, all to admins.
CREATE TABLE audit_events (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    at_ms       BIGINT  NOT NULL,
    actor       TEXT    NOT NULL,
    channel     TEXT    NOT NULL,
    action      TEXT    NOT NULL,
    list_name   TEXT,
    publication TEXT,
    object      TEXT,
    detail      TEXT
);
-- Paging newest first (everything pages by the primary key), over one list's or publication's events.
CREATE INDEX audit_events_by_list ON audit_events (list_name, id);
CREATE INDEX audit_events_by_publication ON audit_events (publication, id);
