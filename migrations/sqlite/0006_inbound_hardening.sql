-- A message's bytes are stored once, however many of our addresses one transaction names:
-- the messages of a transaction (one per list address it reached) share one body.
CREATE TABLE message_bodies (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    raw        BLOB    NOT NULL,
    created_at BIGINT  NOT NULL
);
INSERT INTO message_bodies (id, raw, created_at) SELECT id, raw, received_at FROM messages;
ALTER TABLE messages ADD COLUMN body_id BIGINT REFERENCES message_bodies(id);
UPDATE messages SET body_id = id;
ALTER TABLE messages DROP COLUMN raw;
-- What a message tidings wrote itself sends is its body: only postings, whose decoration
-- differs, keep a second copy.
UPDATE messages SET decorated = NULL WHERE kind IN ('notice', 'edition', 'owner');

-- How the author (From) was proven to have sent the message when it was taken in: 'dkim',
-- 'spf' or 'front-mta', or '' when nothing proved it. Privileged acts by email (an owner's,
-- moderator's or editor's decision, an editor's item) need a proof.
ALTER TABLE messages ADD COLUMN proof TEXT NOT NULL DEFAULT '';

-- Postings dropped without a word to the sender (an unauthenticated outsider's posting to a
-- confidential list, which must be answered as a member's is), counted per list, reason
-- and day for the owners.
CREATE TABLE dropped_postings (
    list_name TEXT   NOT NULL,
    reason    TEXT   NOT NULL,
    day       BIGINT NOT NULL,
    count     BIGINT NOT NULL,
    PRIMARY KEY (list_name, reason, day)
);
