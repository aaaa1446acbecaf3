-- Complaints from providers' feedback loops (RFC 5965 abuse reports): each one unsubscribed
-- its member at once and is counted here, per list, for the owners and `tidings bounces`.

CREATE TABLE complaints (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    list_name      TEXT    NOT NULL,
    -- The member it named, when a token named one (kept after they are removed: it is a count).
    member_id      BIGINT,
    -- The complainer's domain: which provider's feedback loop reported it.
    domain         TEXT    NOT NULL DEFAULT '',
    feedback_type  TEXT    NOT NULL,
    created_at     BIGINT  NOT NULL
);
CREATE INDEX complaints_by_list ON complaints (list_name, created_at);
