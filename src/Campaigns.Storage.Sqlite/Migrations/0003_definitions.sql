-- Definitions (tag models, segments, journeys, the scoring model) as JSON documents by kind and id, with a version per
-- document (optimistic concurrency) and one store-wide change stamp that hosts poll to see other instances' changes.
-- updated_at in Unix ticks like the other tables.
CREATE TABLE definitions (
    kind       TEXT NOT NULL,
    id         TEXT NOT NULL,
    doc        TEXT NOT NULL,
    version    INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (kind, id)
) WITHOUT ROWID;
CREATE TABLE definition_stamp (
    id    INTEGER PRIMARY KEY CHECK (id = 1),
    value INTEGER NOT NULL
);
INSERT INTO definition_stamp (id, value) VALUES (1, 0);
-- In-doubt sends recorded as DeliveryStatus.Unknown (sent once or not at all), counted apart from sent and failed.
ALTER TABLE execution_records ADD COLUMN unknown INTEGER NOT NULL DEFAULT 0;
