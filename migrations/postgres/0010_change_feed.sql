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
-- it. Replicas' followers read in (xid, seq) order and keep the transactions still in
-- progress in view (src/store/postgres/feed.rs); API pages read oldest first only below
-- the snapshot's xmin, where every transaction has ended. Rows written before this release
-- are older than any transaction to come ('2').
-- A constant default is stored once, not written into every row: adding the column does
-- not rewrite the trail, nor hold its lock for long.
ALTER TABLE events ADD COLUMN xid xid8 NOT NULL DEFAULT '2';
ALTER TABLE events ALTER COLUMN xid SET DEFAULT pg_current_xact_id();
CREATE INDEX events_by_xid ON events (xid, seq);
-- A tenant's or a client's feed, oldest first, from where its follower stopped.
CREATE INDEX events_by_tenant_xid ON events (tenant_id, xid, seq);
CREATE INDEX events_by_client_xid ON events (client_id, xid, seq);
