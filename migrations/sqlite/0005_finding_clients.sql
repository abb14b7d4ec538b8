-- Same indexes as migrations/postgres/0005, on the expressions src/store/sqlite.rs uses.
CREATE INDEX clients_by_tenant_name ON clients (tenant_id, lower(json_extract(settings, '$.name')), id);
CREATE INDEX clients_by_tenant_created ON clients (tenant_id, created, id);
CREATE INDEX clients_by_tenant_modified ON clients (tenant_id, modified, id);
CREATE INDEX clients_by_tenant_last_used ON clients (tenant_id, coalesce(last_used, ''), id);
CREATE INDEX clients_by_tenant_app_type ON clients (tenant_id, app_type, id);
CREATE INDEX clients_by_tenant_enabled ON clients (tenant_id, json_extract(settings, '$.enabled'), id);

CREATE INDEX client_credentials_by_expiry ON client_credentials (expires_at);
