-- Campaigns SQLite schema, version 1. Times are NodaTime Unix ticks (100 ns since 1970-01-01T00:00:00Z, UTC).
-- Documents (doc) are JSON written with Campaigns.Storage.StorageJson; personal fields inside are protected by the
-- host's IPersonalDataProtector, and identities are indexed by its lookup keys, never by their values.

CREATE TABLE metadata (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;

CREATE TABLE contacts (
    seq     INTEGER PRIMARY KEY,          -- insertion order (ListAsync)
    id      TEXT NOT NULL UNIQUE,
    version INTEGER NOT NULL,
    doc     TEXT NOT NULL
);

CREATE TABLE contact_identities (
    kind        INTEGER NOT NULL,         -- IdentityKind
    lookup_key  TEXT NOT NULL,            -- IPersonalDataProtector.ComputeLookupKey(purpose, value)
    contact_seq INTEGER NOT NULL,
    PRIMARY KEY (kind, lookup_key)
) WITHOUT ROWID;
CREATE INDEX ix_contact_identities_contact ON contact_identities (contact_seq);

CREATE TABLE events (
    event_id    TEXT PRIMARY KEY,
    contact_id  TEXT NOT NULL,
    occurred_at INTEGER NOT NULL,
    doc         TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX ix_events_contact ON events (contact_id, occurred_at, event_id);

CREATE TABLE campaigns (
    id         TEXT PRIMARY KEY,
    state      TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    version    INTEGER NOT NULL,
    doc        TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX ix_campaigns_order ON campaigns (created_at, id);

CREATE TABLE participants (
    seq         INTEGER PRIMARY KEY,
    id          TEXT NOT NULL UNIQUE,
    campaign_id TEXT NOT NULL,
    email_key   TEXT,
    phone_key   TEXT,
    version     INTEGER NOT NULL,
    doc         TEXT NOT NULL
);
CREATE UNIQUE INDEX ux_participants_email ON participants (campaign_id, email_key) WHERE email_key IS NOT NULL;
CREATE UNIQUE INDEX ux_participants_phone ON participants (campaign_id, phone_key) WHERE phone_key IS NOT NULL;
CREATE INDEX ix_participants_campaign ON participants (campaign_id, seq);

-- The latest run per (journey, contact), and at most one timer per run: the database is the timer.
CREATE TABLE journey_runs (
    journey_id TEXT NOT NULL,
    contact_id TEXT NOT NULL,
    run_number INTEGER NOT NULL,
    status     INTEGER NOT NULL,
    version    INTEGER NOT NULL,
    doc        TEXT NOT NULL,
    PRIMARY KEY (journey_id, contact_id)
) WITHOUT ROWID;

CREATE TABLE journey_timers (
    journey_id  TEXT NOT NULL,
    contact_id  TEXT NOT NULL,
    run_number  INTEGER NOT NULL,
    due_at      INTEGER NOT NULL,
    run_version INTEGER NOT NULL,
    lease_until INTEGER,                  -- set while claimed
    wake_at     INTEGER NOT NULL,         -- due_at, or lease_until while claimed: claimable when wake_at <= now
    PRIMARY KEY (journey_id, contact_id)
);
CREATE INDEX ix_journey_timers_wake ON journey_timers (wake_at);

CREATE TABLE idempotency_keys (
    key         TEXT PRIMARY KEY,
    outcome     TEXT,                     -- JSON DeliveryOutcome once completed
    lease_until INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE cap_sends (
    id         INTEGER PRIMARY KEY,
    contact_id TEXT NOT NULL,
    channel    TEXT NOT NULL,
    at         INTEGER NOT NULL
);
CREATE INDEX ix_cap_sends_contact ON cap_sends (contact_id, at);

CREATE TABLE do_not_contact (
    contact_id TEXT NOT NULL,
    channel    TEXT NOT NULL,             -- '' = every channel
    PRIMARY KEY (contact_id, channel)
) WITHOUT ROWID;

CREATE TABLE execution_records (
    task_id         TEXT PRIMARY KEY,
    started_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    target_count    INTEGER NOT NULL,
    sent            INTEGER NOT NULL,
    suppressed      TEXT NOT NULL,        -- JSON {"<GateCheck number>": count}
    failed          TEXT NOT NULL,        -- JSON {"<DeliveryFailureReason number>": count}
    is_paused       INTEGER NOT NULL,
    alert_raised_at INTEGER
) WITHOUT ROWID;

CREATE TABLE execution_deferred (
    task_id         TEXT NOT NULL,
    idempotency_key TEXT NOT NULL,
    PRIMARY KEY (task_id, idempotency_key)
) WITHOUT ROWID;

CREATE TABLE scoring_model (
    id  INTEGER PRIMARY KEY CHECK (id = 1),
    doc TEXT NOT NULL
);

CREATE TABLE score_ledgers (
    contact_id TEXT PRIMARY KEY,
    doc        TEXT NOT NULL
) WITHOUT ROWID;
