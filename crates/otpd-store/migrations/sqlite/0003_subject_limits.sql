-- Per-subject send limits (001's MaxSMSCount per UserId): a send may name the caller's subject;
-- counted per tenant across services. Older rows have neither column set and never match.
ALTER TABLE sends ADD COLUMN tenant_id TEXT;
ALTER TABLE sends ADD COLUMN subject TEXT;
CREATE INDEX sends_subject ON sends(tenant_id, subject, at) WHERE subject IS NOT NULL;
-- A short human reference the message carries (not the code).
ALTER TABLE outbox_jobs ADD COLUMN reference_code TEXT;
