-- The web console's roster of a list: its members counted by status, and those with a
-- bounce score, read from this index alone rather than from every subscription row of a
-- list that may have a hundred thousand.
CREATE INDEX subscriptions_by_list_status ON subscriptions (list_name, status, bounce_score);
