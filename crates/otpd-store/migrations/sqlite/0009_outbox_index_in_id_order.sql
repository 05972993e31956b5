-- The `outbox` provider's messages were indexed by (tenant, destination, id): every kept
-- message went to a random page of that index, one more page for each commit to write to the
-- WAL and for the checkpointer to copy. With scattered destinations (real traffic) it cost a
-- send more than every other index together (BENCHMARKS.md, 2026-12-07 night). Listed newest
-- first per tenant, a `to` filter reads the destination from the index itself, so only the
-- matching rows are fetched; new entries land at the index's right edge.
DROP INDEX outbox_messages_tenant;
CREATE INDEX outbox_messages_recent ON outbox_messages(tenant_id, id, destination);
