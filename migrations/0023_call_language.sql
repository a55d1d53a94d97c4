-- The language a call runs in (BCP-47): an outbound call's or WebRTC offer's own `language`,
-- else its workflow's settings.language, decided at admission. NULL for calls made before.
ALTER TABLE calls ADD COLUMN language text;
