-- Every replica keeps clients (with their secrets) and API tokens in memory. A committed
-- change to one tells every replica which entry to drop, on channel clientd_changes with a
-- payload 'client:<id>' or 'token:<id>'. Triggers send it, so no write path can forget, and
-- Postgres delivers it only when the change commits (and once per payload per transaction).
-- Inserting a client or a token needs no notice: no replica can hold a row that did not
-- exist. A new secret or a new tenant of a token does: it joins a row replicas may hold.
CREATE FUNCTION clientd_client_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        PERFORM pg_notify('clientd_changes', 'client:' || OLD.id);
    ELSE
        PERFORM pg_notify('clientd_changes', 'client:' || NEW.id);
    END IF;
    RETURN NULL;
END $$;

CREATE FUNCTION clientd_secret_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        PERFORM pg_notify('clientd_changes', 'client:' || OLD.client_id);
    ELSE
        PERFORM pg_notify('clientd_changes', 'client:' || NEW.client_id);
    END IF;
    RETURN NULL;
END $$;

CREATE FUNCTION clientd_token_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('clientd_changes', 'token:' || OLD.id);
    RETURN NULL;
END $$;

-- A token's tenants go when the tenant is deleted (ON DELETE CASCADE), which changes what
-- the token may reach.
CREATE FUNCTION clientd_token_tenant_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        PERFORM pg_notify('clientd_changes', 'token:' || OLD.token_id);
    ELSE
        PERFORM pg_notify('clientd_changes', 'token:' || NEW.token_id);
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER clients_changed AFTER UPDATE OR DELETE ON clients
    FOR EACH ROW EXECUTE FUNCTION clientd_client_changed();
CREATE TRIGGER client_secrets_changed AFTER INSERT OR UPDATE OR DELETE ON client_secrets
    FOR EACH ROW EXECUTE FUNCTION clientd_secret_changed();
CREATE TRIGGER api_tokens_changed AFTER UPDATE OR DELETE ON api_tokens
    FOR EACH ROW EXECUTE FUNCTION clientd_token_changed();
CREATE TRIGGER api_token_tenants_changed AFTER INSERT OR UPDATE OR DELETE ON api_token_tenants
    FOR EACH ROW EXECUTE FUNCTION clientd_token_tenant_changed();
