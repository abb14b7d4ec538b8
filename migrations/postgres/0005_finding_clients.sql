-- Finding clients: the filters and sorters of a listing. Each index leads with the tenant,
-- as a tenant's listing does, and ends with id, which breaks ties and carries the keyset, so
-- a filtered or sorted page is an index range however many clients the tenant has. The
-- expressions are exactly those the store's queries use (src/store/postgres.rs): the name
-- lowercased in the "C" collation (byte order, as on SQLite, and so LIKE 'prefix%' can use
-- the index), never-used clients as -infinity. Every index costs each write a little: these
-- are the ones the listing needs, no more.
CREATE INDEX clients_by_tenant_name ON clients (tenant_id, (lower(settings->>'name') COLLATE "C"), id);
CREATE INDEX clients_by_tenant_created ON clients (tenant_id, created, id);
CREATE INDEX clients_by_tenant_modified ON clients (tenant_id, modified, id);
CREATE INDEX clients_by_tenant_last_used
    ON clients (tenant_id, (coalesce(last_used, '-infinity'::timestamptz)), id);
CREATE INDEX clients_by_tenant_app_type ON clients (tenant_id, app_type, id);
CREATE INDEX clients_by_tenant_enabled ON clients (tenant_id, ((settings->>'enabled')::boolean), id);

-- "Which credentials expire in the next 30 days", across tenants.
CREATE INDEX client_credentials_by_expiry ON client_credentials (expires_at);
