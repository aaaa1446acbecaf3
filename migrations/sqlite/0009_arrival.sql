-- What a posting's acceptance learned, kept with it so that expansion does not parse the
-- message or check its signatures again: the author (the From address; empty when it had
-- none) and, when the list seals an ARC set, the verdict on the posting as it arrived (the
-- Authentication-Results value, and the ARC chain it carried: none, pass or fail). NULL:
-- not recorded, for a message accepted before this column existed or before the list had a
-- key to seal with; expansion then finds out as it did before.
ALTER TABLE messages ADD COLUMN author TEXT;
ALTER TABLE messages ADD COLUMN arrival_results TEXT;
ALTER TABLE messages ADD COLUMN arrival_chain TEXT;
