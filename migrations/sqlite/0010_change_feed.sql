-- Same history as migrations/postgres/0010, which stops write transactions from notifying
-- and orders the events table by writing transaction. SQLite has neither notices nor a
-- second writer: its writes are serialized whole (BEGIN IMMEDIATE), so seq order is commit
-- order, and nothing changes here.
SELECT 1;
