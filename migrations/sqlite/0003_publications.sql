-- Publications: the items editors submit, the editions built from them on schedule, and
-- each edition's rendering per language.

-- An item waits (edition_id NULL) until an edition carries it. Translations of one story
-- share a translation_key.
CREATE TABLE items (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    publication     TEXT    NOT NULL,
    language        TEXT    NOT NULL,
    translation_key TEXT    NOT NULL,
    section         TEXT    NOT NULL DEFAULT '',
    title           TEXT    NOT NULL,
    body            TEXT    NOT NULL,
    author          TEXT    NOT NULL DEFAULT '',
    state           TEXT    NOT NULL,
    edition_id      BIGINT,
    created_at      BIGINT  NOT NULL,
    updated_at      BIGINT  NOT NULL
);
CREATE INDEX items_waiting ON items (publication, state, edition_id);

-- One row per scheduled time (scheduled_at, epoch ms UTC, of the local slot's first
-- instant): the UNIQUE constraint is what makes a slot fire once however many daemons and
-- commands race for it. Special editions use the time they were asked for. number is set
-- for editions that carry items, and freed again when an edition is cancelled.
CREATE TABLE editions (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    publication  TEXT    NOT NULL,
    scheduled_at BIGINT  NOT NULL,
    kind         TEXT    NOT NULL,
    number       BIGINT,
    state        TEXT    NOT NULL,
    note         TEXT    NOT NULL DEFAULT '',
    created_at   BIGINT  NOT NULL,
    updated_at   BIGINT  NOT NULL,
    sent_at      BIGINT,
    UNIQUE (publication, scheduled_at),
    UNIQUE (publication, number)
);
CREATE INDEX editions_by_state ON editions (publication, state);

-- html and text carry the unsubscribe placeholder that delivery replaces per recipient;
-- web_html has the generic unsubscribe link, for the published web page.
CREATE TABLE edition_renders (
    edition_id BIGINT NOT NULL REFERENCES editions(id),
    language   TEXT   NOT NULL,
    subject    TEXT   NOT NULL,
    html       TEXT   NOT NULL,
    text       TEXT   NOT NULL,
    web_html   TEXT   NOT NULL,
    message_id BIGINT,
    PRIMARY KEY (edition_id, language)
);
