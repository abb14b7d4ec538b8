-- Same schema as migrations/postgres/0004: ids are 16-byte blobs, timestamps RFC 3339 text,
-- JSON is text. SQLite has one writer at a time, so seq is the order of commit.

-- The audit trail: one row per change, written in the change's own transaction. No route
-- updates or deletes a row; only the retention task removes old ones.
CREATE TABLE events (
    seq              integer PRIMARY KEY AUTOINCREMENT,
    id               blob NOT NULL,
    time             text NOT NULL,
    tenant_id        text,
    client_id        text,
    actor_kind       text NOT NULL,
    actor_token_id   blob,
    actor_token_name text,
    source_ip        text,
    request_id       text,
    action           text NOT NULL,
    resource_type    text NOT NULL,
    resource_id      text NOT NULL,
    resource_path    text NOT NULL,
    patch            text,
    changed          text,
    document         text
) STRICT;
CREATE INDEX events_by_tenant ON events (tenant_id, seq);
CREATE INDEX events_by_client ON events (client_id, seq);

-- Idempotency-Key: the first answer to a creating or rotating POST, per caller and key.
CREATE TABLE idempotency_keys (
    actor        text NOT NULL,
    key          text NOT NULL,
    request_hash blob NOT NULL,
    created      text NOT NULL,
    status       integer,
    headers      text,
    body         blob,
    PRIMARY KEY (actor, key)
) STRICT;
CREATE INDEX idempotency_keys_by_created ON idempotency_keys (created);
