-- What a posting's acceptance learned, kept with it so that expansion does not parse the
-- message, check its signatures or ask DNS again: the author (the From address; empty when
-- it had none); the DMARC policy of the author's domain (reject, quarantine, none or
-- unknown), when the list sends under the author's name unless that policy forbids it;
-- and, when the list seals an ARC set, the verdict on the posting as it arrived (the
-- Authentication-Results value, and the ARC chain it carried: none, pass or fail). NULL:
-- not recorded, for a message accepted before these columns existed or under settings
-- that did not need it; expansion then finds out as it did before.
ALTER TABLE messages ADD COLUMN author TEXT;
ALTER TABLE messages ADD COLUMN author_policy TEXT;
ALTER TABLE messages ADD COLUMN arrival_results TEXT;
ALTER TABLE messages ADD COLUMN arrival_chain TEXT;
