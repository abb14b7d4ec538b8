-- Tenants are the walls between teams' clients. The id is chosen by the operator and never
-- changes; the "C" collation makes keyset paging order ids byte by byte, as SQLite does.
CREATE TABLE tenants (
    id      text COLLATE "C" PRIMARY KEY,
    name    text NOT NULL,
    created timestamptz NOT NULL
);

-- Admin API tokens. Only a SHA-256 of the token text is kept: the text is shown once.
-- permissions is a space-separated list, like an OAuth scope.
CREATE TABLE api_tokens (
    id          uuid PRIMARY KEY,
    name        text NOT NULL,
    token_hash  bytea NOT NULL,
    permissions text NOT NULL,
    expires_at  timestamptz,
    created     timestamptz NOT NULL
);

-- The tenants a token's client.read and client.write reach. Deleting a tenant removes it from
-- every token, so a later tenant with the same id is not reachable by an old token.
CREATE TABLE api_token_tenants (
    token_id  uuid NOT NULL REFERENCES api_tokens (id) ON DELETE CASCADE,
    tenant_id text COLLATE "C" NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    PRIMARY KEY (token_id, tenant_id)
);
CREATE INDEX api_token_tenants_by_tenant ON api_token_tenants (tenant_id);

-- One-time events of this installation, such as printing the first admin token, so that
-- replicas starting together do it once between them.
CREATE TABLE installation_events (
    name     text PRIMARY KEY,
    happened timestamptz NOT NULL
);
