-- Same schema as migrations/postgres/0008, without the change notices (SQLite has one
-- server). Timestamps are RFC 3339 text.
CREATE TABLE signing_keys (
    tenant_id          text NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    kid                text NOT NULL,
    alg                text NOT NULL,
    state              text NOT NULL,
    public_jwk         text NOT NULL,
    sealed_private_key blob NOT NULL,
    created            text NOT NULL,
    activated          text,
    deactivated        text,
    published_until    text,
    PRIMARY KEY (tenant_id, kid)
) STRICT;
CREATE UNIQUE INDEX signing_keys_one_current ON signing_keys (tenant_id) WHERE state = 'current';
CREATE UNIQUE INDEX signing_keys_one_next ON signing_keys (tenant_id) WHERE state = 'next';
CREATE INDEX signing_keys_withdrawn ON signing_keys (published_until)
    WHERE state IN ('previous', 'retired');

CREATE TABLE revoked_access_tokens (
    tenant_id  text NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    jti        text NOT NULL,
    client_id  text NOT NULL,
    expires_at text NOT NULL,
    PRIMARY KEY (tenant_id, jti)
) STRICT;
CREATE INDEX revoked_access_tokens_by_expiry ON revoked_access_tokens (expires_at);

CREATE TABLE client_assertion_jtis (
    client_id  text NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    jti        text NOT NULL,
    expires_at text NOT NULL,
    PRIMARY KEY (client_id, jti)
) STRICT;
CREATE INDEX client_assertion_jtis_by_expiry ON client_assertion_jtis (expires_at);
