-- Campaigns SDK, PostgreSQL schema version 1. {schema} is replaced by the configured schema name.
-- Instants are bigint "ticks" (100 ns) since the Unix epoch, as NodaTime's Instant.ToUnixTimeTicks gives them:
-- exact, zone-free and compared as integers. Entities are jsonb documents; columns beside them exist for lookups,
-- uniqueness and claims only.

CREATE TABLE {schema}.metadata (
    key text PRIMARY KEY,
    value text NOT NULL
);

CREATE TABLE {schema}.contacts (
    seq bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
    id uuid PRIMARY KEY,
    version bigint NOT NULL,
    doc jsonb NOT NULL
);

-- One row per identity (phone, e-mail, WeChat, WeCom, CRM id); lookup_key is IPersonalDataProtector.ComputeLookupKey.
CREATE TABLE {schema}.contact_identities (
    kind smallint NOT NULL,
    lookup_key text COLLATE "C" NOT NULL,
    contact_id uuid NOT NULL,
    PRIMARY KEY (kind, lookup_key)
);
CREATE INDEX contact_identities_contact ON {schema}.contact_identities (contact_id);

CREATE TABLE {schema}.events (
    event_id text COLLATE "C" PRIMARY KEY,
    contact_id uuid NOT NULL,
    occurred_at bigint NOT NULL,
    doc jsonb NOT NULL
);
CREATE INDEX events_contact_time ON {schema}.events (contact_id, occurred_at, event_id);

CREATE TABLE {schema}.campaigns (
    id uuid PRIMARY KEY,
    state text NOT NULL,
    created_at bigint NOT NULL,
    version bigint NOT NULL,
    doc jsonb NOT NULL
);
CREATE INDEX campaigns_created ON {schema}.campaigns (created_at);

CREATE TABLE {schema}.participants (
    seq bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
    id uuid PRIMARY KEY,
    campaign_id uuid NOT NULL,
    email_key text COLLATE "C",
    phone_key text COLLATE "C",
    version bigint NOT NULL,
    doc jsonb NOT NULL
);
CREATE INDEX participants_campaign ON {schema}.participants (campaign_id, seq);
CREATE UNIQUE INDEX participants_email ON {schema}.participants (campaign_id, email_key) WHERE email_key IS NOT NULL;
CREATE UNIQUE INDEX participants_phone ON {schema}.participants (campaign_id, phone_key) WHERE phone_key IS NOT NULL;

-- The latest run per (journey, contact), as the in-memory store keeps it.
CREATE TABLE {schema}.journey_runs (
    journey_id text COLLATE "C" NOT NULL,
    contact_id uuid NOT NULL,
    run_number integer NOT NULL,
    status smallint NOT NULL,
    version bigint NOT NULL,
    doc jsonb NOT NULL,
    PRIMARY KEY (journey_id, contact_id)
);

-- At most one pending wake-up per run. available_at is due_at until a claim leases the row; then it is lease_until,
-- so one index orders both due timers and expired leases (a crashed host's claims come back by themselves).
CREATE TABLE {schema}.journey_timers (
    journey_id text COLLATE "C" NOT NULL,
    contact_id uuid NOT NULL,
    run_number integer NOT NULL,
    run_version bigint NOT NULL,
    due_at bigint NOT NULL,
    available_at bigint NOT NULL,
    claimed_by text,
    lease_until bigint,
    PRIMARY KEY (journey_id, contact_id)
) WITH (fillfactor = 80);
CREATE INDEX journey_timers_available ON {schema}.journey_timers (available_at);

-- Idempotency keys of sends: outcome is set once completed; until then the key is leased to claimed_by.
CREATE TABLE {schema}.idempotency_keys (
    key text COLLATE "C" PRIMARY KEY,
    claimed_by text,
    lease_until bigint NOT NULL,
    completed_at bigint,
    outcome jsonb
) WITH (fillfactor = 80);

CREATE TABLE {schema}.frequency_sends (
    contact_id text COLLATE "C" NOT NULL,
    channel text COLLATE "C" NOT NULL,
    at bigint NOT NULL
);
CREATE INDEX frequency_sends_contact ON {schema}.frequency_sends (contact_id, at);

-- channel '' lists the contact on every channel.
CREATE TABLE {schema}.do_not_contact (
    contact_id text COLLATE "C" NOT NULL,
    channel text COLLATE "C" NOT NULL,
    listed_at bigint NOT NULL,
    PRIMARY KEY (contact_id, channel)
);

CREATE TABLE {schema}.execution_records (
    task_id text COLLATE "C" PRIMARY KEY,
    started_at bigint NOT NULL,
    updated_at bigint NOT NULL,
    target_count integer NOT NULL DEFAULT 0,
    sent bigint NOT NULL DEFAULT 0,
    deferred bigint NOT NULL DEFAULT 0,
    suppressed_by jsonb NOT NULL DEFAULT '{}',
    failed_by jsonb NOT NULL DEFAULT '{}',
    is_paused boolean NOT NULL DEFAULT false,
    alert_raised_at bigint
);

CREATE TABLE {schema}.execution_deferred (
    task_id text COLLATE "C" NOT NULL,
    key text COLLATE "C" NOT NULL,
    PRIMARY KEY (task_id, key)
);

CREATE TABLE {schema}.scoring_model (
    id smallint PRIMARY KEY CHECK (id = 1),
    version bigint NOT NULL,
    doc jsonb NOT NULL
);

CREATE TABLE {schema}.score_ledgers (
    contact_id uuid PRIMARY KEY,
    doc jsonb NOT NULL
);
