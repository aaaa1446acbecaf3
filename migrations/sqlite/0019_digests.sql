-- Digests: a member chooses per list to get every posting as it is sent ('each', the
-- default), or one digest a day ('daily') or a week ('weekly'). Members in a digest mode
-- get no copy of each posting; the posting waits in digest_entries instead.
ALTER TABLE subscriptions ADD COLUMN delivery_mode TEXT NOT NULL DEFAULT 'each';
-- Whether a list has any member in a digest mode, asked once per posting at expansion.
CREATE INDEX subscriptions_by_list_mode ON subscriptions (list_name, delivery_mode, status);

-- A posting as relayed, kept for the digests from the moment it was committed for delivery
-- (expansion: a held posting approved later counts from then), whatever retention does to
-- the message itself. Each digest kind takes an entry once: daily_run and weekly_run name
-- the digest_runs row that took it, NULL while it waits.
CREATE TABLE digest_entries (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    list_name  TEXT    NOT NULL,
    message_id BIGINT  NOT NULL,
    raw        BLOB    NOT NULL,
    created_at BIGINT  NOT NULL,
    daily_run  BIGINT,
    weekly_run BIGINT
);
CREATE INDEX digest_entries_daily ON digest_entries (list_name, daily_run, id);
CREATE INDEX digest_entries_weekly ON digest_entries (list_name, weekly_run, id);

-- One row per list, kind and scheduled slot (period_end, epoch ms of the slot's first
-- instant): the UNIQUE constraint is what makes a period's digest go out once however many
-- daemons race for it; the digest's messages and deliveries are created in the transaction
-- that inserts the row. A period without postings has its row too, with no deliveries.
CREATE TABLE digest_runs (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    list_name  TEXT    NOT NULL,
    kind       TEXT    NOT NULL,
    period_end BIGINT  NOT NULL,
    entries    BIGINT  NOT NULL,
    deliveries BIGINT  NOT NULL,
    created_at BIGINT  NOT NULL,
    UNIQUE (list_name, kind, period_end)
);
