-- Fewer index entries written per send. Every send inserts a `sends` row, an outbox job and
-- (with the `outbox` provider) a kept message; each extra index is one more B-tree insert in
-- the writer's transaction.
-- The purge indexes on time go: rows are inserted in time order, so the sweeper purges from
-- the oldest rowid instead (maintenance.rs).
DROP INDEX sends_at;
DROP INDEX outbox_jobs_created;
DROP INDEX outbox_messages_created;
-- Only jobs still to deliver are looked up by due time. With every status in the index a
-- delivered job's entry moved to the `sent` part of it and stayed there forever.
DROP INDEX outbox_jobs_due;
CREATE INDEX outbox_jobs_due ON outbox_jobs(status, due_at) WHERE status IN ('queued', 'sending');
