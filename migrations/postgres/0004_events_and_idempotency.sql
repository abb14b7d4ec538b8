-- The audit trail: one row per change, written in the change's own transaction, so neither
-- can exist without the other. No route updates or deletes a row; only the retention task
-- removes those older than CLIENTD_AUDIT_RETENTION_DAYS. seq orders events as their changes
-- committed one after another (a change takes its resource's lock before its event gets a
-- seq) and is the keyset of every page; tenant_id and client_id carry no foreign key, as the
-- history of a deleted tenant or client outlives it. Every write pays for this table's
-- indexes, so it has only those that reads need: the documents are json, not jsonb (never
-- searched inside, and cheaper to write), and retention deletes the oldest rows by seq.
CREATE TABLE events (
    seq              bigserial PRIMARY KEY,
    id               uuid NOT NULL,
    time             timestamptz NOT NULL,
    tenant_id        text COLLATE "C",
    client_id        text COLLATE "C",
    actor_kind       text NOT NULL,
    actor_token_id   uuid,
    actor_token_name text,
    source_ip        text,
    request_id       text,
    action           text NOT NULL,
    resource_type    text NOT NULL,
    resource_id      text NOT NULL,
    resource_path    text NOT NULL,
    patch            json,
    changed          json,
    document         json
);
-- A tenant's and a client's history, newest first, a page at a time.
CREATE INDEX events_by_tenant ON events (tenant_id, seq);
CREATE INDEX events_by_client ON events (client_id, seq);

-- Idempotency-Key: the first answer to a creating or rotating POST, per caller and key, so a
-- retry gets it again. status is null while the first request is still running. The body is
-- kept without any secret or token text, which are stored nowhere in clear.
CREATE TABLE idempotency_keys (
    actor        text NOT NULL,
    key          text NOT NULL,
    request_hash bytea NOT NULL,
    created      timestamptz NOT NULL,
    status       integer,
    headers      jsonb,
    body         bytea,
    PRIMARY KEY (actor, key)
);
CREATE INDEX idempotency_keys_by_created ON idempotency_keys (created);
