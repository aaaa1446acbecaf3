-- Bounce processing: a score per subscription (mailbox failures only, at most daily_cap
-- points a day, forgotten after decay_days without one), the state of a member disabled for
-- bouncing, and a log of every classified failure for the owners' reports.

ALTER TABLE subscriptions ADD COLUMN bounce_score BIGINT NOT NULL DEFAULT 0;
-- Day number (days since the epoch, UTC) of the last scored bounce, and the points it gave.
ALTER TABLE subscriptions ADD COLUMN bounce_day BIGINT NOT NULL DEFAULT 0;
ALTER TABLE subscriptions ADD COLUMN bounce_day_points BIGINT NOT NULL DEFAULT 0;
ALTER TABLE subscriptions ADD COLUMN last_bounce_at BIGINT NOT NULL DEFAULT 0;
ALTER TABLE subscriptions ADD COLUMN disabled_at BIGINT NOT NULL DEFAULT 0;
ALTER TABLE subscriptions ADD COLUMN reenable_notices BIGINT NOT NULL DEFAULT 0;
ALTER TABLE subscriptions ADD COLUMN last_notice_at BIGINT NOT NULL DEFAULT 0;

CREATE TABLE bounce_events (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    list_name   TEXT    NOT NULL,
    member_id   BIGINT,
    -- The failed recipient's domain: reports group policy rejections by destination.
    domain      TEXT    NOT NULL,
    class       TEXT    NOT NULL,
    status      TEXT    NOT NULL DEFAULT '',
    detail      TEXT    NOT NULL DEFAULT '',
    created_at  BIGINT  NOT NULL
);
CREATE INDEX bounce_events_by_list ON bounce_events (list_name, class, created_at);
