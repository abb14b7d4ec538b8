-- OAuth clients. What callers may change lives in `settings` (the canonical camelCase fields);
-- what only clientd sets has its own column. A tenant with clients cannot be deleted.
CREATE TABLE clients (
    id               text COLLATE "C" PRIMARY KEY,
    tenant_id        text COLLATE "C" NOT NULL REFERENCES tenants (id),
    app_type         text NOT NULL,
    settings         jsonb NOT NULL,
    manually_created boolean NOT NULL,
    created          timestamptz NOT NULL,
    modified         timestamptz NOT NULL,
    last_used        timestamptz
);
-- Keyset paging within a tenant: a page costs the same wherever it starts.
CREATE INDEX clients_by_tenant ON clients (tenant_id, id);

-- Client secrets: the current one and, while a rotation is under way, the next. Only a SHA-256
-- of the secret and its last four characters are kept.
CREATE TABLE client_secrets (
    client_id   text COLLATE "C" NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    slot        text NOT NULL CHECK (slot IN ('current', 'next')),
    secret_hash bytea NOT NULL,
    last_four   text NOT NULL,
    created     timestamptz NOT NULL,
    last_used   timestamptz,
    PRIMARY KEY (client_id, slot)
);
