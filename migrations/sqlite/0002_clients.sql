-- Same schema as migrations/postgres/0002: settings is JSON text, timestamps RFC 3339 text.

-- OAuth clients. What callers may change lives in `settings` (the canonical camelCase fields);
-- what only clientd sets has its own column. A tenant with clients cannot be deleted.
CREATE TABLE clients (
    id               text PRIMARY KEY NOT NULL,
    tenant_id        text NOT NULL REFERENCES tenants (id),
    app_type         text NOT NULL,
    settings         text NOT NULL,
    manually_created integer NOT NULL,
    created          text NOT NULL,
    modified         text NOT NULL,
    last_used        text
) STRICT;
-- Keyset paging within a tenant: a page costs the same wherever it starts.
CREATE INDEX clients_by_tenant ON clients (tenant_id, id);

-- Client secrets: the current one and, while a rotation is under way, the next. Only a SHA-256
-- of the secret and its last four characters are kept.
CREATE TABLE client_secrets (
    client_id   text NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    slot        text NOT NULL CHECK (slot IN ('current', 'next')),
    secret_hash blob NOT NULL,
    last_four   text NOT NULL,
    created     text NOT NULL,
    last_used   text,
    PRIMARY KEY (client_id, slot)
) STRICT;
