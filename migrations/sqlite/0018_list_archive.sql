-- The archive of each list's postings, as relayed to its members (decorated, before each
-- copy's own header lines), and of past archives imported from mbox files. Not to be
-- confused with the editions of publications, which keep their own renderings.
--
-- A message is named in URLs by `message_key`, a hash of its Message-ID, so that the
-- Archived-At header of a copy is known before the row is written, and an import of the
-- same message twice finds it. `thread_key` is the key of its thread's first message;
-- `parent_key` the message it answers, when that is in the archive. The search_* columns
-- hold the words of the subject, the author and the text, lowercased, folded and
-- separated by single spaces, so that both databases' full-text engines see the same words.
-- A removed message keeps its row (with nothing of its content) so that an import does not
-- bring it back.
CREATE TABLE list_archive (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    list_name      TEXT    NOT NULL,
    message_key    TEXT    NOT NULL,
    message_id     TEXT    NOT NULL,
    in_reply_to    TEXT,
    thread_key     TEXT    NOT NULL,
    parent_key     TEXT,
    subject        TEXT    NOT NULL,
    thread_subject TEXT    NOT NULL,
    author_name    TEXT    NOT NULL,
    author_address TEXT    NOT NULL,
    posted_at      BIGINT  NOT NULL,
    month          TEXT    NOT NULL,
    search_subject TEXT    NOT NULL,
    search_author  TEXT    NOT NULL,
    search_body    TEXT    NOT NULL,
    raw            BLOB    NOT NULL,
    archived_at    BIGINT  NOT NULL,
    removed_at     BIGINT,
    UNIQUE (list_name, message_key)
);

CREATE INDEX list_archive_by_month ON list_archive (list_name, month, posted_at);

-- Messages per list and month, kept in the transactions that archive and remove them, so
-- that a list's index of months does not count every message of a large archive.
CREATE TABLE list_archive_months (
    list_name TEXT   NOT NULL,
    month     TEXT   NOT NULL,
    messages  BIGINT NOT NULL,
    PRIMARY KEY (list_name, month)
);
CREATE INDEX list_archive_by_thread ON list_archive (list_name, thread_key, posted_at);
CREATE INDEX list_archive_by_message_id ON list_archive (list_name, message_id);
CREATE INDEX list_archive_by_reply ON list_archive (list_name, in_reply_to);
CREATE INDEX list_archive_by_subject ON list_archive (list_name, thread_subject, posted_at);
CREATE INDEX list_archive_by_time ON list_archive (list_name, posted_at);

-- Full text: an FTS5 index over the search_* columns, kept by triggers (PostgreSQL: a
-- GIN index over a generated tsvector of the same columns).
CREATE VIRTUAL TABLE list_archive_search USING fts5(
    search_subject, search_author, search_body,
    content = 'list_archive', content_rowid = 'id',
    tokenize = 'unicode61 remove_diacritics 0'
);

CREATE TRIGGER list_archive_search_insert AFTER INSERT ON list_archive BEGIN
    INSERT INTO list_archive_search (rowid, search_subject, search_author, search_body)
    VALUES (new.id, new.search_subject, new.search_author, new.search_body);
END;

CREATE TRIGGER list_archive_search_delete AFTER DELETE ON list_archive BEGIN
    INSERT INTO list_archive_search (list_archive_search, rowid, search_subject, search_author, search_body)
    VALUES ('delete', old.id, old.search_subject, old.search_author, old.search_body);
END;

CREATE TRIGGER list_archive_search_update
AFTER UPDATE OF search_subject, search_author, search_body ON list_archive BEGIN
    INSERT INTO list_archive_search (list_archive_search, rowid, search_subject, search_author, search_body)
    VALUES ('delete', old.id, old.search_subject, old.search_author, old.search_body);
    INSERT INTO list_archive_search (rowid, search_subject, search_author, search_body)
    VALUES (new.id, new.search_subject, new.search_author, new.search_body);
END;
