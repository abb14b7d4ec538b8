-- The change feed (DESIGN 17): no write's transaction sends NOTIFY any more. A commit that
-- notifies holds a database-wide lock through its WAL flush, so such commits ran one at a
-- time; replicas now follow the events table, which every change already writes in its own
-- transaction, and are woken by a NOTIFY sent after commit, apart from the write.
DROP TRIGGER clients_changed ON clients;
DROP TRIGGER client_secrets_changed ON client_secrets;
DROP TRIGGER api_tokens_changed ON api_tokens;
DROP TRIGGER api_token_tenants_changed ON api_token_tenants;
DROP TRIGGER signing_keys_changed ON signing_keys;
DROP TRIGGER client_credentials_changed ON client_credentials;
DROP FUNCTION clientd_client_changed();
DROP FUNCTION clientd_secret_changed();
DROP FUNCTION clientd_token_changed();
DROP FUNCTION clientd_token_tenant_changed();
DROP FUNCTION clientd_signing_keys_changed();
DROP FUNCTION clientd_credential_changed();

-- The transaction that wrote each event. seq is handed out before commit, so a row may
-- commit after one with a greater seq: a follower that read "seq > last seen" could skip
-- it. Every transaction older than the current snapshot's xmin has ended, so rows with an
-- xid below it are final: none can still appear. Followers read in (xid, seq) order up to
-- that line (src/store/postgres/feed.rs). Rows written before this release are older than
-- any transaction to come.
ALTER TABLE events ADD COLUMN xid xid8;
UPDATE events SET xid = '2' WHERE xid IS NULL;
ALTER TABLE events ALTER COLUMN xid SET DEFAULT pg_current_xact_id();
ALTER TABLE events ALTER COLUMN xid SET NOT NULL;
CREATE INDEX events_by_xid ON events (xid, seq);
