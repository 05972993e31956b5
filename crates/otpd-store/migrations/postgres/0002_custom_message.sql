-- Caller-chosen message text and sender travel with each delivery job.
ALTER TABLE outbox_jobs ADD COLUMN message TEXT;
ALTER TABLE outbox_jobs ADD COLUMN sender TEXT;
