-- Client credentials (Auth0): RSA public keys, certificates and certificate subject DNs.
-- key_fingerprint (the RFC 7638 thumbprint of the key, or "dn:" and the normalised subject DN)
-- keeps one client from holding the same key twice; pem keeps the public material only.
CREATE TABLE client_credentials (
    id                     text COLLATE "C" PRIMARY KEY,
    client_id              text COLLATE "C" NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    name                   text NOT NULL,
    credential_type        text NOT NULL,
    kid                    text,
    alg                    text,
    subject_dn             text,
    thumbprint_sha256      text,
    key_fingerprint        text NOT NULL,
    pem                    text,
    certificate_expires_at timestamptz,
    created_at             timestamptz NOT NULL,
    updated_at             timestamptz NOT NULL,
    expires_at             timestamptz,
    UNIQUE (client_id, key_fingerprint)
);
