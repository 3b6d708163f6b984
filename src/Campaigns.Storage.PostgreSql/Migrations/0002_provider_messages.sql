-- The provider message index: a channel's provider message id -> the send (contact, idempotency key, when), so a
-- receipt that carries only the provider's id (bounce, complaint, status callback) finds its contact after a restart.
-- sent_at in Unix ticks like the other tables; rows older than the retention are deleted by sent_at.
CREATE TABLE {schema}.provider_messages (
    channel text COLLATE "C" NOT NULL,
    provider_message_id text COLLATE "C" NOT NULL,
    contact_id text NOT NULL,
    idempotency_key text NOT NULL,
    sent_at bigint NOT NULL,
    PRIMARY KEY (channel, provider_message_id)
);
CREATE INDEX ix_provider_messages_sent_at ON {schema}.provider_messages (sent_at);
