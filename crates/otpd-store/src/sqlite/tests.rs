//! SQLite-only tests: the file, its pragmas and the group-commit writer. The behaviour both
//! backends share is tested once for both in `crate::tests`.

use super::*;
use otpd_core::clock::{Clock, FakeClock};
use otpd_core::destination::{Channel, Destination, PhoneE164};
use otpd_core::engine::{Engine, StartInput};
use otpd_core::ports::NoDispatch;
use otpd_core::random::SeededRandom;
use otpd_core::service::NewService;

fn secrets() -> Arc<ServerSecrets> {
    Arc::new(ServerSecrets::from_master(&[5u8; 32]).unwrap())
}

/// Every row `sql` returns, each read by `read`.
fn all_rows<T>(
    c: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
    read: impl FnMut(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
) -> Vec<T> {
    c.prepare(sql)
        .unwrap()
        .query_map(params, read)
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap()
}

#[tokio::test]
async fn migrations_are_recorded_and_idempotent() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("otpd.db");
    let _store = SqliteStore::open(&path, secrets()).unwrap();
    assert_eq!(SqliteStore::migrate_file(&path).unwrap(), 0);
    let c = Connection::open(&path).unwrap();
    let v: i64 = c
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(v as usize, MIGRATIONS.len());
    let mode: String = c
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
}

/// Migration 0009: kept messages are indexed in id order, so each lands at the index's right
/// edge, and a listing by destination still needs neither a table scan nor a sort.
#[tokio::test]
async fn outbox_listing_walks_the_id_ordered_index() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("otpd.db");
    let _store = SqliteStore::open(&path, secrets()).unwrap();
    let c = Connection::open(&path).unwrap();
    let columns: Vec<String> = all_rows(
        &c,
        "SELECT name FROM pragma_index_info('outbox_messages_recent') ORDER BY seqno",
        [],
        |r| r.get(0),
    );
    assert_eq!(columns, ["tenant_id", "id", "destination"]);
    let indexes: Vec<String> = all_rows(
        &c,
        "SELECT name FROM pragma_index_list('outbox_messages')",
        [],
        |r| r.get(0),
    );
    assert_eq!(indexes, ["outbox_messages_recent"]);
    let plan: Vec<String> = all_rows(
        &c,
        &format!("EXPLAIN QUERY PLAN {}", outbox::MESSAGES),
        rusqlite::params!["TE1", "+14155552671", 10],
        |r| r.get(3),
    );
    assert_eq!(
        plan,
        ["SEARCH outbox_messages USING INDEX outbox_messages_recent (tenant_id=?)"],
        "{plan:?}"
    );
}

#[tokio::test]
async fn committed_pages_reach_the_database_file_without_the_writer_checkpointing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("otpd.db");
    let store = SqliteStore::open(&path, secrets()).unwrap();
    // The writer never checkpoints itself: only the checkpoint thread copies the log back.
    let auto: i64 = store
        .pool
        .write(|c| {
            c.query_row("PRAGMA wal_autocheckpoint", [], |r| r.get(0))
                .map_err(sql_err)
        })
        .await
        .unwrap();
    assert_eq!(auto, 0);
    let before = std::fs::metadata(&path).unwrap().len();
    store
        .pool
        .write(|c| {
            c.execute_batch(
                "CREATE TABLE filler (b BLOB);
                 WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 200)
                 INSERT INTO filler SELECT randomblob(4000) FROM n;",
            )
            .map_err(sql_err)
        })
        .await
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while std::fs::metadata(&path).unwrap().len() < before + 200 * 4000 {
        assert!(
            std::time::Instant::now() < deadline,
            "nothing was checkpointed"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn no_stored_column_holds_the_code() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("otpd.db");
    let engine = engine_on(SqliteStore::open(&path, secrets()).unwrap());
    let admin = bootstrap_admin(&engine).await;
    let mut n = NewService::named("Acme");
    n.custom_code_enabled = Some(true);
    let svc = engine.create_service(&admin, n).await.unwrap();
    let input = StartInput {
        custom_code: Some(Code::custom("918273", "custom_code").unwrap()),
        ..StartInput::new(
            Destination::Phone(PhoneE164::parse("+14155552671", "to").unwrap()),
            Channel::Sms,
        )
    };
    engine
        .start_verification(&admin, svc.id.as_str(), input)
        .await
        .unwrap();
    // Every byte of the database and its write-ahead log.
    for file in [path.clone(), path.with_extension("db-wal")] {
        if let Ok(bytes) = std::fs::read(&file) {
            assert!(
                !bytes.windows(6).any(|w| w == b"918273"),
                "{}",
                file.display()
            );
        }
    }
}

#[tokio::test]
async fn a_failing_write_does_not_spoil_its_batch() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("otpd.db"), secrets()).unwrap();
    let pool = store.pool.clone();
    let mut tasks = Vec::new();
    for i in 0..40 {
        let pool = pool.clone();
        tasks.push(tokio::spawn(async move {
            pool.write(move |c| {
                c.execute(
                    "INSERT INTO sends (service_id, destination, at) VALUES ('s', 'd', ?1)",
                    [i],
                )
                .map_err(sql_err)?;
                if i % 2 == 0 {
                    Err(Error::Conflict("no".into()))
                } else {
                    Ok(())
                }
            })
            .await
        }));
    }
    let mut ok = 0;
    for t in tasks {
        ok += t.await.unwrap().is_ok() as usize;
    }
    assert_eq!(ok, 20);
    let n: i64 = pool
        .read(|c| {
            c.query_row(
                "SELECT COUNT(*) FROM sends WHERE service_id = 's'",
                [],
                |r| r.get(0),
            )
            .map_err(sql_err)
        })
        .await
        .unwrap();
    assert_eq!(n, 20, "only the successful writes are committed");
}

/// One batch holding writes that succeed, writes that fail before changing anything and writes
/// that fail after changing rows: the batch takes the savepoint path again, and every write
/// lands exactly once or not at all, each caller hearing its own answer.
#[tokio::test]
async fn a_batch_rerun_keeps_every_write_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("otpd.db"), secrets()).unwrap();
    let pool = store.pool.clone();
    // Hold the writer so that everything below queues into one batch.
    let (held_tx, held_rx) = std::sync::mpsc::channel::<()>();
    let held_rx = std::sync::Mutex::new(held_rx);
    let blocker = tokio::spawn({
        let pool = pool.clone();
        async move {
            pool.write(move |_| {
                let _ = held_rx
                    .lock()
                    .unwrap()
                    .recv_timeout(std::time::Duration::from_secs(5));
                Ok(())
            })
            .await
        }
    });
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    let mut tasks = Vec::new();
    for i in 0..60i64 {
        let pool = pool.clone();
        tasks.push(tokio::spawn(async move {
            pool.write(move |c| {
                if i % 3 == 0 {
                    return Err(Error::Conflict("refused before writing".into()));
                }
                c.execute(
                    "INSERT INTO sends (service_id, destination, at) VALUES ('s', 'd', ?1)",
                    [i],
                )
                .map_err(sql_err)?;
                if i % 3 == 1 {
                    return Err(Error::Conflict("refused after writing".into()));
                }
                Ok(i)
            })
            .await
        }));
    }
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    held_tx.send(()).unwrap();
    blocker.await.unwrap().unwrap();
    for (i, t) in tasks.into_iter().enumerate() {
        let answer = t.await.unwrap();
        match i % 3 {
            2 => assert_eq!(answer, Ok(i as i64)),
            _ => assert!(matches!(answer, Err(Error::Conflict(_))), "{i}: {answer:?}"),
        }
    }
    let kept: Vec<i64> = pool
        .read(|c| {
            let mut s = c
                .prepare("SELECT at FROM sends WHERE service_id = 's' ORDER BY at")
                .map_err(sql_err)?;
            let rows = s.query_map([], |r| r.get(0)).map_err(sql_err)?;
            rows.collect::<rusqlite::Result<Vec<i64>>>()
                .map_err(sql_err)
        })
        .await
        .unwrap();
    let expected: Vec<i64> = (0..60).filter(|i| i % 3 == 2).collect();
    assert_eq!(kept, expected);
}

/// The first admin key of a new database, authenticated.
async fn bootstrap_admin(engine: &Engine) -> otpd_core::tenant::Principal {
    let key = engine.bootstrap().await.unwrap().unwrap();
    engine
        .authenticate(key.key.id.as_str(), &key.secret)
        .await
        .unwrap()
}

fn engine_on(store: SqliteStore) -> Engine {
    Engine {
        store: Arc::new(store),
        clock: Arc::new(FakeClock::new(Timestamp(1_800_000_000_000))),
        rng: Arc::new(SeededRandom::new(12)),
        secrets: secrets(),
        dispatcher: Arc::new(NoDispatch),
    }
}

/// Keys are cached for a second: a revocation through the same store takes effect at once,
/// one by another process on the same file (the CLI beside a server) within the cache's TTL.
#[tokio::test]
async fn a_revoked_key_stops_working_at_once_here_and_within_a_second_elsewhere() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("otpd.db");
    let server = engine_on(SqliteStore::open(&path, secrets()).unwrap());
    let admin = server.bootstrap().await.unwrap().unwrap();
    server
        .authenticate(admin.key.id.as_str(), &admin.secret)
        .await
        .unwrap();
    let scopes = otpd_core::tenant::Scopes::parse_list("verify").unwrap();
    let mut keys = Vec::new();
    for name in ["here", "elsewhere"] {
        let k = server
            .issue_key(otpd_core::engine::DEFAULT_TENANT, name, scopes.clone())
            .await
            .unwrap();
        // Authenticated once, so the key is in the cache.
        server
            .authenticate(k.key.id.as_str(), &k.secret)
            .await
            .unwrap();
        keys.push(k);
    }

    server.revoke_key(keys[0].key.id.as_str()).await.unwrap();
    assert_eq!(
        server
            .authenticate(keys[0].key.id.as_str(), &keys[0].secret)
            .await,
        Err(Error::Unauthorized)
    );

    let cli = engine_on(SqliteStore::open(&path, secrets()).unwrap());
    cli.revoke_key(keys[1].key.id.as_str()).await.unwrap();
    let revoked_at = std::time::Instant::now();
    loop {
        let r = server
            .authenticate(keys[1].key.id.as_str(), &keys[1].secret)
            .await;
        if r == Err(Error::Unauthorized) {
            break;
        }
        assert!(
            revoked_at.elapsed() < key_cache::TTL + std::time::Duration::from_millis(500),
            "a key revoked elsewhere still works after the cache's TTL"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// The sweeper's expiry walk keeps its place in the database: a restarted server goes on from
/// the last row it looked at instead of walking the whole retention window again.
#[tokio::test]
async fn the_expiry_walk_resumes_where_it_stopped_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("otpd.db");
    let engine = engine_on(SqliteStore::open(&path, secrets()).unwrap());
    let admin = bootstrap_admin(&engine).await;
    let svc = engine
        .create_service(&admin, NewService::named("Acme"))
        .await
        .unwrap();
    let input = StartInput::new(
        Destination::Phone(PhoneE164::parse("+14155552671", "to").unwrap()),
        Channel::Sms,
    );
    let v = engine
        .start_verification(&admin, svc.id.as_str(), input)
        .await
        .unwrap()
        .verification;
    let later = v.expires_at.plus_secs(1);
    let r = engine.store.sweep(later, 86_400).await.unwrap();
    assert_eq!(r.expired, 2, "the verification and its job: {r:?}");
    drop(engine);

    let cursor: (i64, String) = Connection::open(&path)
        .unwrap()
        .query_row(
            "SELECT c.expires_at, v.id FROM sweep_cursor c JOIN verifications v ON v.rowid = c.row_id",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!(cursor, (v.expires_at.0, v.id.as_str().to_owned()));
    let reopened = SqliteStore::open(&path, secrets()).unwrap();
    let r = reopened.sweep(later.plus_secs(1), 86_400).await.unwrap();
    assert_eq!((r.expired, r.more), (0, false));
}

/// Migration 0007 left jobs only a partial index by due time: the worker's claim and the
/// sweeper's drop must still go through it rather than scan every job ever sent.
#[tokio::test]
async fn the_claim_and_the_drop_use_the_index_of_jobs_to_deliver() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("otpd.db");
    let _store = SqliteStore::open(&path, secrets()).unwrap();
    let c = Connection::open(&path).unwrap();
    for sql in [outbox::CLAIM, maintenance::DROP_EXPIRED_JOBS] {
        let plan: Vec<String> = all_rows(&c, &format!("EXPLAIN QUERY PLAN {sql}"), [0, 0], |r| {
            r.get(3)
        });
        assert!(
            plan.iter()
                .any(|p| p.contains("USING INDEX outbox_jobs_due")),
            "{sql}: {plan:?}"
        );
    }
}

/// Re-sends, jobs and kept messages have no index on time (migration 0007): the sweeper purges
/// them from the oldest rowid. Old rows go, young ones stay, and an old job still queued at
/// the front is dropped and purged rather than holding the purge up.
#[tokio::test]
async fn the_purge_takes_old_sends_jobs_and_messages_and_keeps_young_ones() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("otpd.db");
    let store = Arc::new(SqliteStore::open(&path, secrets()).unwrap());
    let clock = Arc::new(FakeClock::new(Timestamp(1_800_000_000_000)));
    let engine = Arc::new(Engine {
        store: store.clone(),
        clock: clock.clone(),
        rng: Arc::new(SeededRandom::new(12)),
        secrets: secrets(),
        dispatcher: Arc::new(NoDispatch),
    });
    let admin = bootstrap_admin(&engine).await;
    let svc = engine
        .create_service(&admin, NewService::named("Acme"))
        .await
        .unwrap();
    let start = |to: &'static str| {
        let (engine, admin, sid) = (engine.clone(), admin.clone(), svc.id.clone());
        async move {
            let input = StartInput::new(
                Destination::Phone(PhoneE164::parse(to, "to").unwrap()),
                Channel::Sms,
            );
            engine
                .start_verification(&admin, sid.as_str(), input)
                .await
                .unwrap();
        }
    };
    // Messages are kept with a job's result; here they are written beside the jobs, so the
    // young job can stay queued.
    let keep_message = |at: Timestamp| {
        Connection::open(&path)
            .unwrap()
            .execute(
                "INSERT INTO outbox_messages (tenant_id, destination, channel, sealed_body, created_at)
                 VALUES (?1, '+14155552671', 'sms', x'010203', ?2)",
                rusqlite::params![svc.tenant_id.as_str(), at.0],
            )
            .unwrap();
    };
    // Old: a re-send (its `sends` row and the job it dropped), one job left leased at the
    // front, two delivered behind it.
    start("+14155552671").await;
    start("+14155552671").await;
    start("+14155552672").await;
    start("+14155552673").await;
    let jobs = store.claim_jobs(clock.now(), 10, 30_000).await.unwrap();
    assert_eq!(jobs.len(), 3);
    for job in &jobs[1..] {
        let sent = AttemptResult::Sent {
            provider: "outbox".into(),
            provider_ref: None,
            kept: None,
        };
        store
            .finish_attempt(job.id, sent, clock.now())
            .await
            .unwrap();
    }
    keep_message(clock.now());
    // Young: two days later, within the retention and the sends' one-day window.
    clock.advance_secs(2 * 86_400);
    start("+14155552674").await;
    start("+14155552674").await;
    keep_message(clock.now());

    let mut swept = SweepReport::default();
    loop {
        let r = store.sweep(clock.now(), 3_600).await.unwrap();
        swept.purged += r.purged;
        if !r.more {
            break;
        }
    }
    let c = Connection::open(&path).unwrap();
    let count = |table: &str| -> i64 {
        c.query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |r| r.get(0))
            .unwrap()
    };
    // Young: a verification, its re-send, its dropped first job and the queued second.
    assert_eq!(count("verifications"), 1);
    assert_eq!(count("sends"), 1);
    assert_eq!(count("outbox_jobs"), 2);
    assert_eq!(count("outbox_messages"), 1);
    // 3 verifications, 1 re-send, 4 jobs, 1 message.
    assert_eq!(swept.purged, 9, "{swept:?}");
    let young_jobs: Vec<String> =
        all_rows(&c, "SELECT status FROM outbox_jobs ORDER BY id", [], |r| {
            r.get(0)
        });
    assert_eq!(young_jobs, ["dropped", "queued"]);
}

/// Migration 0008 on a database written by 0007: a first send's `sends` row goes (its
/// verification row counts it now, with its subject), a re-send's stays, and every
/// verification names its newest job.
#[tokio::test]
async fn migration_0008_folds_first_sends_into_their_verifications() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("otpd.db");
    {
        let c = Connection::open(&path).unwrap();
        for sql in &MIGRATIONS[..7] {
            c.execute_batch(sql).unwrap();
        }
        c.execute_batch(
            "PRAGMA user_version = 7;
             INSERT INTO verifications (id, tenant_id, service_id, channel, destination, status,
                 code_mac, custom_code, locale, attempts, max_attempts, send_count, created_at,
                 updated_at, expires_at)
             VALUES ('VEa', 'TN1', 'VA1', 'sms', '+14155552671', 'pending', x'00', 0, 'en', 0, 5, 2,
                     1000, 2000, 601000),
                    ('VEb', 'TN1', 'VA1', 'sms', '+14155552672', 'pending', x'00', 0, 'en', 0, 5, 1,
                     1500, 1500, 601500);
             INSERT INTO sends (service_id, destination, at, tenant_id, subject)
             VALUES ('VA1', '+14155552671', 1000, 'TN1', 'user-1'),
                    ('VA1', '+14155552671', 2000, 'TN1', 'user-1'),
                    ('VA1', '+14155552672', 1500, 'TN1', NULL);
             INSERT INTO outbox_jobs (id, tenant_id, service_id, verification_id, channel,
                 destination, locale, status, due_at, expires_at, created_at, updated_at)
             VALUES (7, 'TN1', 'VA1', 'VEa', 'sms', '+14155552671', 'en', 'dropped', 0, 0, 1000, 2000),
                    (8, 'TN1', 'VA1', 'VEb', 'sms', '+14155552672', 'en', 'queued', 0, 0, 1500, 1500),
                    (9, 'TN1', 'VA1', 'VEa', 'sms', '+14155552671', 'en', 'queued', 0, 0, 2000, 2000);",
        )
        .unwrap();
    }
    let _store = SqliteStore::open(&path, secrets()).unwrap();
    let c = Connection::open(&path).unwrap();
    let sends: Vec<(String, i64, Option<String>)> = all_rows(
        &c,
        "SELECT destination, at, subject FROM sends ORDER BY at",
        [],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
    );
    assert_eq!(
        sends,
        [("+14155552671".into(), 2000, Some("user-1".into()))]
    );
    let verifications: Vec<(String, Option<String>, Option<i64>)> = all_rows(
        &c,
        "SELECT id, subject, job_id FROM verifications ORDER BY id",
        [],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
    );
    assert_eq!(
        verifications,
        [
            ("VEa".into(), Some("user-1".into()), Some(9)),
            ("VEb".into(), None, Some(8))
        ]
    );
    let index: i64 = c
        .query_row(
            "SELECT COUNT(*) FROM sqlite_schema WHERE name = 'outbox_jobs_verification'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(index, 0);
}
