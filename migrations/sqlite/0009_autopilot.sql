-- Same schema as migrations/postgres/0009: timestamps RFC 3339 text, booleans integers.
-- The rotation autopilot and least-privilege tokens (DESIGN 16).

-- When each admin token was last used, recorded coarsely as secrets' uses are.
ALTER TABLE api_tokens ADD COLUMN last_used text;

-- stale_at: when the current secret passes its client's secretPolicy.maxAgeSeconds (null
-- without one); stale_noted once its secret.stale event is written. check_at: when the
-- autopilot next looks at a rotation under way (on the next secret's row); overdue_noted
-- once its secret.rotate.overdue event is written. Both indexes hold only what is pending,
-- so a run reads what is due and nothing else, however many clients there are.
ALTER TABLE client_secrets ADD COLUMN stale_at text;
ALTER TABLE client_secrets ADD COLUMN stale_noted integer NOT NULL DEFAULT 0;
ALTER TABLE client_secrets ADD COLUMN check_at text;
ALTER TABLE client_secrets ADD COLUMN overdue_noted integer NOT NULL DEFAULT 0;
CREATE INDEX client_secrets_stale_due ON client_secrets (stale_at)
    WHERE stale_noted = false AND stale_at IS NOT NULL;
CREATE INDEX client_secrets_rotation_due ON client_secrets (check_at) WHERE check_at IS NOT NULL;
-- The filter secretStale eq true starts from the stale current secrets.
CREATE INDEX client_secrets_stale ON client_secrets (stale_at)
    WHERE slot = 'current' AND stale_at IS NOT NULL;
-- A rotation under way when this release arrives is looked at on the autopilot's first run.
UPDATE client_secrets SET check_at = created WHERE slot = 'next';

-- How far a credential's expiry warnings went: 0 none, 1 credential.expiring written,
-- 2 credential.expired written. A new expires_at starts again at 0.
ALTER TABLE client_credentials ADD COLUMN expiry_noted integer NOT NULL DEFAULT 0;
CREATE INDEX client_credentials_expiry_unwarned ON client_credentials (expires_at)
    WHERE expiry_noted = 0 AND expires_at IS NOT NULL;
CREATE INDEX client_credentials_expiry_warned ON client_credentials (expires_at)
    WHERE expiry_noted = 1;
-- A credential that had expired before this release is not announced as news (times are
-- RFC 3339 text in UTC, so they compare as text with one written the same way).
UPDATE client_credentials SET expiry_noted = 2
    WHERE expires_at <= strftime('%Y-%m-%dT%H:%M:%f+00:00', 'now');
