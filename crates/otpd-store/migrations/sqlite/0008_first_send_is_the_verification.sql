-- Two fewer B-tree inserts per send, and the two whose keys (a 34-character id, a service id
-- and a phone number) made them the costliest: every commit split their rightmost page and
-- rewrote its neighbours (~4 WAL pages per commit each, measured).
--
-- A verification's first send is the verification row itself (its `created_at`), so `sends`
-- keeps re-sends only; the send limits count both. A subject-limited first send keeps its
-- subject on the verification.
ALTER TABLE verifications ADD COLUMN subject TEXT;
CREATE INDEX verifications_subject ON verifications(tenant_id, subject, created_at)
    WHERE subject IS NOT NULL;
UPDATE verifications SET subject = s.subject
    FROM (SELECT service_id, destination, at, subject FROM sends WHERE subject IS NOT NULL) AS s
    WHERE verifications.service_id = s.service_id AND verifications.destination = s.destination
      AND verifications.created_at = s.at;
DELETE FROM sends WHERE EXISTS (
    SELECT 1 FROM verifications v
    WHERE v.service_id = sends.service_id AND v.destination = sends.destination
      AND v.created_at = sends.at);
-- A verification names its newest delivery job: re-sends, cancels and failures find the job
-- through it instead of through an index of jobs by verification id.
ALTER TABLE verifications ADD COLUMN job_id INTEGER;
UPDATE verifications SET job_id = (
    SELECT MAX(j.id) FROM outbox_jobs j WHERE j.verification_id = verifications.id);
DROP INDEX outbox_jobs_verification;
