-- Delivery receipts and status callbacks find their job by the provider's message id.
CREATE INDEX outbox_jobs_provider_ref ON outbox_jobs(provider, provider_ref)
    WHERE provider_ref IS NOT NULL;
