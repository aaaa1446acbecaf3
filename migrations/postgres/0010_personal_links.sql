-- Set on a message whose copies each carry their recipient's own unsubscribe link in place
-- of the placeholder (an edition's), so that delivery reads it from the message instead of
-- asking what kind of list sent it. Editions already stored are such messages.
ALTER TABLE messages ADD COLUMN personal_links BIGINT NOT NULL DEFAULT 0;
UPDATE messages SET personal_links = 1 WHERE kind = 'edition';
