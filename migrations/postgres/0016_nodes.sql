-- Daemons sharing one database (PostgreSQL): each process registers under an identity of
-- its own (host, process id and a random suffix) and renews its heartbeat every few
-- seconds; a node whose heartbeat stopped for [cluster] takeover_seconds is dead, and any
-- live node releases its claims. Times are epoch milliseconds of the database's clock.
CREATE TABLE nodes (
    id           TEXT   NOT NULL PRIMARY KEY,
    host         TEXT   NOT NULL,
    started_at   BIGINT NOT NULL,
    heartbeat_at BIGINT NOT NULL
);

-- A delivery claim is fenced: the claim that set `claim_token` (with `claimed_by`, the
-- node) is the only one whose outcome is recorded, so a worker that lost its claim to
-- another cannot overwrite the newer claim's result.
ALTER TABLE deliveries ADD COLUMN claim_token BIGINT NOT NULL DEFAULT 0;

-- Back-off after a destination's 4xx replies, shared by every node: the pause one node
-- learnt holds for all of them.
CREATE TABLE destination_pauses (
    domain       TEXT   NOT NULL PRIMARY KEY,
    paused_until BIGINT NOT NULL,
    strikes      BIGINT NOT NULL
);
