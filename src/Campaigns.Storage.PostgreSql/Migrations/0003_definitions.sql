-- Definitions (tag models, segments, journeys, the scoring model) as JSON documents by kind and id, with a version per
-- document (optimistic concurrency) and one store-wide change stamp that hosts poll to see other instances' changes.
-- doc is text (not jsonb) so that an unchanged document is recognised byte for byte; updated_at in Unix ticks.
CREATE TABLE {schema}.definitions (
    kind text COLLATE "C" NOT NULL,
    id text COLLATE "C" NOT NULL,
    doc text NOT NULL,
    version bigint NOT NULL,
    updated_at bigint NOT NULL,
    PRIMARY KEY (kind, id)
);
CREATE TABLE {schema}.definition_stamp (
    id smallint PRIMARY KEY CHECK (id = 1),
    value bigint NOT NULL
);
INSERT INTO {schema}.definition_stamp (id, value) VALUES (1, 0);
-- In-doubt sends recorded as DeliveryStatus.Unknown (sent once or not at all), counted apart from sent and failed.
ALTER TABLE {schema}.execution_records ADD COLUMN unknown bigint NOT NULL DEFAULT 0;
