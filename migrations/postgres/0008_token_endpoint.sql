-- The token endpoint (DESIGN 15): each tenant's signing keys, the access tokens its clients
-- revoked, and the client assertion ids already used. All go with their tenant or client.

-- state: next (published, not yet signing), current (signs), previous (published until
-- published_until, when the last token it signed has expired), retired (withdrawn at once).
-- sealed_private_key: PKCS#8 under AES-256-GCM (CLIENTD_KEY_ENCRYPTION_KEYS), bound to
-- tenant and kid. One current and one next key per tenant at most.
CREATE TABLE signing_keys (
    tenant_id          text COLLATE "C" NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    kid                text COLLATE "C" NOT NULL,
    alg                text NOT NULL,
    state              text NOT NULL,
    public_jwk         text NOT NULL,
    sealed_private_key bytea NOT NULL,
    created            timestamptz NOT NULL,
    activated          timestamptz,
    deactivated        timestamptz,
    published_until    timestamptz,
    PRIMARY KEY (tenant_id, kid)
);
CREATE UNIQUE INDEX signing_keys_one_current ON signing_keys (tenant_id) WHERE state = 'current';
CREATE UNIQUE INDEX signing_keys_one_next ON signing_keys (tenant_id) WHERE state = 'next';
-- Housekeeping deletes what is no longer published, found by this index.
CREATE INDEX signing_keys_withdrawn ON signing_keys (published_until)
    WHERE state IN ('previous', 'retired');

-- Revoked access tokens (RFC 7009), by jti, until the token would have expired anyway.
CREATE TABLE revoked_access_tokens (
    tenant_id  text COLLATE "C" NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    jti        text COLLATE "C" NOT NULL,
    client_id  text COLLATE "C" NOT NULL,
    expires_at timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, jti)
);
CREATE INDEX revoked_access_tokens_by_expiry ON revoked_access_tokens (expires_at);

-- The jti of every client assertion (private_key_jwt) until it expires: each is single-use.
CREATE TABLE client_assertion_jtis (
    client_id  text COLLATE "C" NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    jti        text COLLATE "C" NOT NULL,
    expires_at timestamptz NOT NULL,
    PRIMARY KEY (client_id, jti)
);
CREATE INDEX client_assertion_jtis_by_expiry ON client_assertion_jtis (expires_at);

-- Every replica keeps each tenant's opened keys in memory: a change to them (a rotation, the
-- tenant's deletion) tells every replica to drop them, as migration 0006's triggers do for
-- clients. Key changes are rare (a rotation every few months), so a notice each costs nothing.
CREATE FUNCTION clientd_signing_keys_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        PERFORM pg_notify('clientd_changes', 'keys:' || OLD.tenant_id);
    ELSE
        PERFORM pg_notify('clientd_changes', 'keys:' || NEW.tenant_id);
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER signing_keys_changed AFTER INSERT OR UPDATE OR DELETE ON signing_keys
    FOR EACH ROW EXECUTE FUNCTION clientd_signing_keys_changed();

-- The token endpoint checks client assertions with credentials held in memory: a change to a
-- client's credentials is announced as a change to the client, which drops both.
CREATE FUNCTION clientd_credential_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        PERFORM pg_notify('clientd_changes', 'client:' || OLD.client_id);
    ELSE
        PERFORM pg_notify('clientd_changes', 'client:' || NEW.client_id);
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER client_credentials_changed AFTER INSERT OR UPDATE OR DELETE ON client_credentials
    FOR EACH ROW EXECUTE FUNCTION clientd_credential_changed();
