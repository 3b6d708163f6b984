-- The provider message index: a channel's provider message id -> the send (contact, idempotency key, when), so a
-- receipt that carries only the provider's id (bounce, complaint, status callback) finds its contact after a restart.
-- sent_at in Unix ticks like the other tables; rows older than the retention are deleted by sent_at.
CREATE TABLE provider_messages (
    channel             TEXT NOT NULL,
    provider_message_id TEXT NOT NULL,
    contact_id          TEXT NOT NULL,
    idempotency_key     TEXT NOT NULL,
    sent_at             INTEGER NOT NULL,
    PRIMARY KEY (channel, provider_message_id)
) WITHOUT ROWID;
CREATE INDEX ix_provider_messages_sent_at ON provider_messages (sent_at);
