#!/usr/bin/env python3
"""Bulk-load N verifications into a stopped otpd's SQLite database, for the scaling benchmark.

    bench/fill.py DATA_DIR N

The database must exist (`otpd keys create --data-dir DATA_DIR ...` creates it). Rows look
like real traffic of the last 20 hours, inserted in creation order as otpd inserts them: one
service of the default tenant, distinct destinations, rows of the last 10 minutes mostly
pending, older ones ended (75 % approved, 25 % expired), code MACs and sealed codes of real
length, and a sent job each, which its verification names. A first send has no `sends` row: the
verification row counts it (migration 0008).
Prints the database size per verification after a checkpoint.
"""

import os
import random
import sqlite3
import sys
import time

data_dir, total = sys.argv[1], int(sys.argv[2])
path = os.path.join(data_dir, "otpd.db")
db = sqlite3.connect(path)
db.execute("PRAGMA journal_mode=WAL")
db.execute("PRAGMA synchronous=OFF")  # bulk load only; otpd itself runs with FULL
tenant = db.execute("SELECT id FROM tenants WHERE slug = 'default'").fetchone()[0]
service = "VA" + os.urandom(16).hex()
now = int(time.time() * 1000)
db.execute(
    "INSERT INTO services (id, tenant_id, number, config, created_at) VALUES (?, ?, "
    "(SELECT COALESCE(MAX(number), 0) + 1 FROM services WHERE tenant_id = ?), ?, ?)",
    (service, tenant, tenant,
     '{"name":"fill","code_length":6,"alphabet":"digits","ttl_seconds":600,'
     '"max_check_attempts":5,"max_sends":5,"custom_code_enabled":true}', now),
)

rng = random.Random(7)
# Jobs get their ids here, so each verification can name its job as otpd writes it.
first_job = db.execute("SELECT COALESCE(MAX(id), 0) + 1 FROM outbox_jobs").fetchone()[0]
batch = 20_000
started = time.time()
for start in range(0, total, batch):
    verifications, jobs = [], []
    for n in range(start, min(start + batch, total)):
        to = f"+1{[415, 212, 312, 617, 206][n % 5]}3{n % 1_000_000:06d}"
        # Rows go in in creation order, as otpd writes them: the last 20 hours spread evenly.
        # Those still within their 10 minutes are mostly pending; older ones have ended, as
        # a running sweeper leaves them.
        created = now - (20 * 3600 * 1000) * (total - n) // total
        roll = rng.random()
        if created + 600_000 > now:
            status = "pending" if roll < 0.7 else "approved"
        elif roll < 0.75:
            status = "approved"
        else:
            status = "expired"
        expires = created + 600_000
        # As otpd makes them: 48 bits of creation time in ms, then 80 random bits.
        vid = f"VE{created:012x}" + rng.getrandbits(80).to_bytes(10, "big").hex()
        job = first_job + n
        verifications.append((vid, tenant, service, "sms", to, status, os.urandom(32), 0, "en",
                              0, 5, 1, created, created, expires, None, None, None, job))
        jobs.append((job, tenant, service, vid, "sms", to, "en", None, "sent", 1, created, expires,
                     "outbox", created, created))
    db.executemany(
        "INSERT INTO verifications (id, tenant_id, service_id, channel, destination, status, "
        "code_mac, custom_code, locale, attempts, max_attempts, send_count, created_at, "
        "updated_at, expires_at, context_id, source, reference_code, job_id) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", verifications)
    db.executemany(
        "INSERT INTO outbox_jobs (id, tenant_id, service_id, verification_id, channel, "
        "destination, locale, sealed_code, status, attempts, due_at, expires_at, provider, "
        "created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", jobs)
    db.commit()
    done = min(start + batch, total)
    if done % 500_000 == 0 or done == total:
        print(f"{done} rows, {time.time() - started:.0f} s", flush=True)
# A server that had been running has walked every row that expired before it stopped.
db.execute(
    "UPDATE sweep_cursor SET expires_at = COALESCE((SELECT MAX(expires_at) FROM verifications "
    "WHERE expires_at <= ?), 0), row_id = 9223372036854775807 WHERE id = 1", (now,))
db.commit()
db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
db.close()
size = os.path.getsize(path)
print(f"database {size / 1e6:.0f} MB for {total} verifications: {size / total:.0f} bytes each "
      "(with their jobs and indexes)")
