-- Postgres's 0006 adds triggers that tell every replica what changed. SQLite is served by
-- one process (clientd holds an exclusive lock on the database file), whose own writes keep its
-- memory current, so there is nothing to add here. The file keeps both trees' names alike.
SELECT 1;
