-- Same schema as migrations/postgres/0001: uuids are 16-byte blobs, timestamps RFC 3339 text.

-- Tenants are the walls between teams' clients. The id is chosen by the operator and never changes.
CREATE TABLE tenants (
    id      text PRIMARY KEY NOT NULL,
    name    text NOT NULL,
    created text NOT NULL
) STRICT;

-- Admin API tokens. Only a SHA-256 of the token text is kept: the text is shown once.
-- permissions is a space-separated list, like an OAuth scope.
CREATE TABLE api_tokens (
    id          blob PRIMARY KEY NOT NULL,
    name        text NOT NULL,
    token_hash  blob NOT NULL,
    permissions text NOT NULL,
    expires_at  text,
    created     text NOT NULL
) STRICT;

-- The tenants a token's client.read and client.write reach. Deleting a tenant removes it from
-- every token, so a later tenant with the same id is not reachable by an old token.
CREATE TABLE api_token_tenants (
    token_id  blob NOT NULL REFERENCES api_tokens (id) ON DELETE CASCADE,
    tenant_id text NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    PRIMARY KEY (token_id, tenant_id)
) STRICT;
CREATE INDEX api_token_tenants_by_tenant ON api_token_tenants (tenant_id);

-- One-time events of this installation, such as printing the first admin token.
CREATE TABLE installation_events (
    name     text PRIMARY KEY NOT NULL,
    happened text NOT NULL
) STRICT;
