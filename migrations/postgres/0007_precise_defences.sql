-- Issue 23: a retry never creates twice, and a filtered page of the trail is fast.

-- An Idempotency-Key claim has an id, which the event of the change it guards carries.
-- Inserting that event marks the claim committed, in the change's own transaction: the
-- claim's row is locked by the change until it commits, so a retry that would take an
-- abandoned claim over waits for it and then sees it committed, and a change whose claim
-- was taken over meanwhile fails rather than happen twice. Only a claim not committed is
-- ever given up. Rows and events from before this release have no claim.
ALTER TABLE idempotency_keys ADD COLUMN claim uuid;
ALTER TABLE idempotency_keys ADD COLUMN committed boolean;
CREATE UNIQUE INDEX idempotency_keys_by_claim ON idempotency_keys (claim);
ALTER TABLE events ADD COLUMN claim uuid;
-- The event that answers a retry whose first answer was lost; only claimed events are in it.
CREATE INDEX events_by_claim ON events (claim) WHERE claim IS NOT NULL;

CREATE FUNCTION clientd_claim_committed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE idempotency_keys SET committed = true WHERE claim = NEW.claim AND status IS NULL;
    IF NOT FOUND THEN
        -- Another request took the claim over: this change must not happen as well.
        RAISE EXCEPTION 'the Idempotency-Key claim was taken over by a retry'
            USING ERRCODE = '40001';
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER events_commit_claim AFTER INSERT ON events
    FOR EACH ROW WHEN (NEW.claim IS NOT NULL) EXECUTE FUNCTION clientd_claim_committed();

-- The filters of every events route, each an index range in seq order (newest first):
-- action, resource_type and actor alone or, for a tenant's trail, action after its tenant.
-- The last also finds a tenant's latest tenant.create, where a tenant made again under a
-- deleted one's id begins its trail. since and until are a range of time.
CREATE INDEX events_by_tenant_action ON events (tenant_id, action, seq);
CREATE INDEX events_by_action ON events (action, seq);
CREATE INDEX events_by_resource_type ON events (resource_type, seq);
CREATE INDEX events_by_actor ON events (actor_token_id, seq);
CREATE INDEX events_by_time ON events (time);
