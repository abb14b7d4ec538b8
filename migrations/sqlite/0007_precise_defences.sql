-- Issue 23, as migrations/postgres/0007: a retry never creates twice, a filtered page is fast.

-- An Idempotency-Key claim has an id, which the event of the change it guards carries.
-- Inserting that event marks the claim committed, in the change's own transaction (SQLite
-- has one writer at a time, so the claim cannot change between the check and the mark); a
-- change whose claim was taken over meanwhile fails rather than happen twice. Only a claim
-- not committed is ever given up. Rows and events from before this release have no claim.
ALTER TABLE idempotency_keys ADD COLUMN claim blob;
ALTER TABLE idempotency_keys ADD COLUMN committed integer;
CREATE UNIQUE INDEX idempotency_keys_by_claim ON idempotency_keys (claim);
ALTER TABLE events ADD COLUMN claim blob;
CREATE INDEX events_by_claim ON events (claim) WHERE claim IS NOT NULL;

CREATE TRIGGER events_commit_claim AFTER INSERT ON events WHEN NEW.claim IS NOT NULL
BEGIN
    SELECT RAISE(ABORT, 'the Idempotency-Key claim was taken over by a retry')
    WHERE NOT EXISTS (
        SELECT 1 FROM idempotency_keys WHERE claim = NEW.claim AND status IS NULL
    );
    UPDATE idempotency_keys SET committed = 1 WHERE claim = NEW.claim;
END;

-- The filters of every events route, as on Postgres.
CREATE INDEX events_by_tenant_action ON events (tenant_id, action, seq);
CREATE INDEX events_by_action ON events (action, seq);
CREATE INDEX events_by_resource_type ON events (resource_type, seq);
CREATE INDEX events_by_actor ON events (actor_token_id, seq);
CREATE INDEX events_by_time ON events (time);
