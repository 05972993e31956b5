-- Persons (the directory of seeds 001 and 003) and customer users (seed 002): a customer user
-- is a person with a password (an argon2id PHC string; never the password itself).
CREATE TABLE persons (
    tenant_id           TEXT NOT NULL REFERENCES tenants(id),
    id                  TEXT NOT NULL,
    phone               TEXT,
    email               TEXT,
    language            TEXT,
    name                TEXT,
    password_hash       TEXT,
    password_temporary  INTEGER NOT NULL DEFAULT 0,
    password_set_at     INTEGER,
    created_at          INTEGER NOT NULL,
    updated_at          INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
-- Customers log in by e-mail, so an address names one person per tenant, whatever its case.
CREATE UNIQUE INDEX persons_email ON persons(tenant_id, email COLLATE NOCASE)
    WHERE email IS NOT NULL;

-- Failed customer logins per identifier (an account, or a name nobody has: counted alike).
CREATE TABLE login_failures (
    tenant_id     TEXT NOT NULL,
    key           TEXT NOT NULL,
    failures      INTEGER NOT NULL,
    window_start  INTEGER NOT NULL,
    locked_until  INTEGER,
    PRIMARY KEY (tenant_id, key)
);
CREATE INDEX login_failures_window ON login_failures(window_start);

-- Codes bound to a person are found by their `source` reference.
CREATE INDEX verifications_source ON verifications(service_id, source, created_at)
    WHERE source IS NOT NULL;
