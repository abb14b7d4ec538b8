-- Same schema as migrations/postgres/0003: timestamps RFC 3339 text.

-- Client credentials (Auth0): RSA public keys, certificates and certificate subject DNs.
-- key_fingerprint (the RFC 7638 thumbprint of the key, or "dn:" and the normalised subject DN)
-- keeps one client from holding the same key twice; pem keeps the public material only.
CREATE TABLE client_credentials (
    id                     text PRIMARY KEY NOT NULL,
    client_id              text NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    name                   text NOT NULL,
    credential_type        text NOT NULL,
    kid                    text,
    alg                    text,
    subject_dn             text,
    thumbprint_sha256      text,
    key_fingerprint        text NOT NULL,
    pem                    text,
    certificate_expires_at text,
    created_at             text NOT NULL,
    updated_at             text NOT NULL,
    expires_at             text,
    UNIQUE (client_id, key_fingerprint)
) STRICT;
