-- Issue 23: a retry never creates twice, and a filtered page of the trail is fast.

-- Building indexes over a long trail may take longer than the requests' statement_timeout,
-- which every pooled connection sets: lifted for this migration's transaction alone.
SET LOCAL statement_timeout = 0;

-- The id of an Idempotency-Key claim, which the guarded change's event takes as its own id.
-- That event is written in the change's transaction, so "an event with the claim's id exists"
-- is exactly "the change committed": a retry that finds the claim unanswered replays from it
-- instead of doing the change again, and only a claim without one is ever given up. Rows
-- from before this release have none and behave as before.
ALTER TABLE idempotency_keys ADD COLUMN claim uuid;

-- The filters of every events route, each an index range in seq order (newest first):
-- action, resource_type and actor alone or, for a tenant's trail, after its tenant. The last
-- also finds a tenant's latest tenant.create, where a tenant made again under a deleted one's
-- id begins its trail. since and until are a range of time, which also bounds the search for
-- a claim's event.
CREATE INDEX events_by_tenant_action ON events (tenant_id, action, seq);
CREATE INDEX events_by_action ON events (action, seq);
CREATE INDEX events_by_resource_type ON events (resource_type, seq);
CREATE INDEX events_by_actor ON events (actor_token_id, seq);
CREATE INDEX events_by_time ON events (time);
