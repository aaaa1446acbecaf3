-- SQLite lets a primary key other than INTEGER PRIMARY KEY be NULL unless it is declared NOT
-- NULL (PostgreSQL's never can): the tables keyed by text are built again with NOT NULL
-- keys, in the way SQLite's documentation gives for changing a table's definition.

CREATE TABLE settings_new (
    key   TEXT NOT NULL PRIMARY KEY,
    value TEXT NOT NULL
);
INSERT INTO settings_new (key, value) SELECT key, value FROM settings;
DROP TABLE settings;
ALTER TABLE settings_new RENAME TO settings;

CREATE TABLE organisation_domains_new (
    domain          TEXT   NOT NULL PRIMARY KEY,
    organisation_id BIGINT NOT NULL REFERENCES organisations(id) ON DELETE CASCADE
);
INSERT INTO organisation_domains_new (domain, organisation_id)
    SELECT domain, organisation_id FROM organisation_domains;
DROP TABLE organisation_domains;
ALTER TABLE organisation_domains_new RENAME TO organisation_domains;

CREATE TABLE organisation_contacts_new (
    address         TEXT   NOT NULL PRIMARY KEY,
    organisation_id BIGINT NOT NULL REFERENCES organisations(id) ON DELETE CASCADE
);
INSERT INTO organisation_contacts_new (address, organisation_id)
    SELECT address, organisation_id FROM organisation_contacts;
DROP TABLE organisation_contacts;
ALTER TABLE organisation_contacts_new RENAME TO organisation_contacts;
