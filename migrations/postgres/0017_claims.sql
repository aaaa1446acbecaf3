-- Work that must be done once when several daemons share one database.
--
-- Commands and bounces are claimed before they are carried out: the claimer's node name,
-- a token of its own for this claim, and the end of its lease (epoch ms). A message stays
-- `processing` while claimed; a claim whose lease ran out (its daemon died) is taken again,
-- and only the holder of the current token may record the outcome.
ALTER TABLE messages ADD COLUMN claimed_by TEXT;
ALTER TABLE messages ADD COLUMN claim_token TEXT;
ALTER TABLE messages ADD COLUMN claimed_until BIGINT;

-- Bounces a crash left in `processing` before claims had leases: taken again at once.
UPDATE messages SET claimed_until = 0 WHERE state = 'processing';

-- When the editors were sent an edition's preview (or an automatic edition was queued):
-- an edition built but never notified, because its daemon stopped between the two, is
-- found by this being empty and notified then. Editions built before are taken as told.
ALTER TABLE editions ADD COLUMN notified_at BIGINT;
UPDATE editions SET notified_at = created_at;
