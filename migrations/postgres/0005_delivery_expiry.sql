-- Set once the list's owners were told that deliveries of this message ran out of retries:
-- one notice per message, however many of its recipients expire, and whichever worker or
-- daemon sees them.
ALTER TABLE messages ADD COLUMN expiry_notified BIGINT NOT NULL DEFAULT 0;
