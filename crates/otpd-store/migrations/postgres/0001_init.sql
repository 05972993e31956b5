-- otpd schema v1 (PostgreSQL), the same tables as migrations/sqlite/0001_init.sql.
-- Timestamps are milliseconds since the Unix epoch (BIGINT), so both backends share one model.
-- No column holds a code or an API secret: codes are HMACs, outbox payloads are sealed.

CREATE TABLE tenants (
    id          TEXT PRIMARY KEY,
    slug        TEXT NOT NULL UNIQUE,
    created_at  BIGINT NOT NULL
);

CREATE TABLE api_keys (
    id          TEXT PRIMARY KEY,
    tenant_id   TEXT NOT NULL REFERENCES tenants(id),
    name        TEXT NOT NULL,
    secret_mac  BYTEA NOT NULL,
    scopes      TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    revoked_at  BIGINT
);
CREATE INDEX api_keys_tenant ON api_keys(tenant_id);

CREATE TABLE services (
    id          TEXT PRIMARY KEY,
    tenant_id   TEXT NOT NULL REFERENCES tenants(id),
    number      BIGINT NOT NULL,
    config      TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    UNIQUE (tenant_id, number)
);

CREATE TABLE verifications (
    id              TEXT PRIMARY KEY,
    tenant_id       TEXT NOT NULL,
    service_id      TEXT NOT NULL,
    channel         TEXT NOT NULL,
    destination     TEXT NOT NULL,
    status          TEXT NOT NULL,
    code_mac        BYTEA NOT NULL,
    custom_code     BOOLEAN NOT NULL,
    locale          TEXT NOT NULL,
    attempts        BIGINT NOT NULL,
    max_attempts    BIGINT NOT NULL,
    send_count      BIGINT NOT NULL,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL,
    expires_at      BIGINT NOT NULL,
    context_id      TEXT,
    source          TEXT,
    reference_code  TEXT
);
CREATE INDEX verifications_pending ON verifications(service_id, destination, channel, created_at)
    WHERE status = 'pending';
-- Serves both the sweeper's expiry (status = 'pending') and its purge (the ended statuses).
CREATE INDEX verifications_status_expiry ON verifications(status, expires_at);

-- One row per code sent, for the per-destination send limit (shared by every node).
CREATE TABLE sends (
    service_id   TEXT NOT NULL,
    destination  TEXT NOT NULL,
    at           BIGINT NOT NULL
);
CREATE INDEX sends_destination ON sends(service_id, destination, at);
CREATE INDEX sends_at ON sends(at);

CREATE TABLE outbox_jobs (
    id               BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id        TEXT NOT NULL,
    service_id       TEXT NOT NULL,
    verification_id  TEXT NOT NULL,
    channel          TEXT NOT NULL,
    destination      TEXT NOT NULL,
    locale           TEXT NOT NULL,
    sealed_code      BYTEA,
    status           TEXT NOT NULL,
    attempts         BIGINT NOT NULL DEFAULT 0,
    -- queued: when the next attempt is due; sending: when the lease runs out.
    due_at           BIGINT NOT NULL,
    expires_at       BIGINT NOT NULL,
    provider         TEXT,
    provider_ref     TEXT,
    last_error       TEXT,
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL
);
-- Only live jobs are ever claimed: a partial index stays small however much history is kept.
CREATE INDEX outbox_jobs_due ON outbox_jobs(due_at) WHERE status IN ('queued', 'sending');
CREATE INDEX outbox_jobs_verification ON outbox_jobs(verification_id);
CREATE INDEX outbox_jobs_created ON outbox_jobs(created_at);

-- Messages kept by the development `outbox` provider, sealed.
CREATE TABLE outbox_messages (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id    TEXT NOT NULL,
    destination  TEXT NOT NULL,
    channel      TEXT NOT NULL,
    sealed_body  BYTEA NOT NULL,
    created_at   BIGINT NOT NULL
);
CREATE INDEX outbox_messages_tenant ON outbox_messages(tenant_id, destination, id);
CREATE INDEX outbox_messages_created ON outbox_messages(created_at);
