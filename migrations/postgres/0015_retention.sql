-- Retention: a finished message's delivery rows are purged after [retention] days, their
-- counts folded first into one row per list, day (when the delivery was finished, days
-- since the epoch, UTC) and final state, so that `tidings queue` still counts them.
CREATE TABLE daily_counts (
    list_name TEXT   NOT NULL,
    day       BIGINT NOT NULL,
    state     TEXT   NOT NULL,
    count     BIGINT NOT NULL,
    PRIMARY KEY (list_name, day, state)
);

-- The purge asks, per message, whether any of its deliveries is still under way, and
-- deletes them by message; per body, whether any message still shares it.
CREATE INDEX deliveries_by_message ON deliveries (message_id, state);
CREATE INDEX messages_by_body ON messages (body_id);
