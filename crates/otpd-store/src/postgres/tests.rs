//! PostgreSQL-only tests: the schema bookkeeping, what is stored, and two stores ("nodes") on
//! one database at once. They need the server `TEST_POSTGRES_URL` names (see
//! `crate::testing`). The behaviour both backends share is tested in `crate::tests`.

use super::*;
use crate::testing::TestDatabase;
use otpd_core::clock::FakeClock;
use otpd_core::destination::{Channel, Destination, PhoneE164};
use otpd_core::engine::{Engine, StartInput};
use otpd_core::ports::NoDispatch;
use otpd_core::random::SeededRandom;
use otpd_core::service::NewService;
use otpd_core::tenant::Principal;

fn secrets() -> Arc<ServerSecrets> {
    Arc::new(ServerSecrets::from_master(&[5u8; 32]).unwrap())
}

/// Two engines, each with its own store (pool) on one database: two otpd nodes.
struct Nodes {
    db: TestDatabase,
    a: Arc<Engine>,
    b: Arc<Engine>,
    clock: Arc<FakeClock>,
    admin: Principal,
    service: Service,
}

fn engine(store: PgStore, clock: Arc<FakeClock>, seed: u64) -> Arc<Engine> {
    Arc::new(Engine {
        store: Arc::new(store),
        clock,
        rng: Arc::new(SeededRandom::new(seed)),
        secrets: secrets(),
        dispatcher: Arc::new(NoDispatch),
    })
}

async fn nodes() -> Nodes {
    let db = TestDatabase::create().await;
    let clock = Arc::new(FakeClock::new(Timestamp(1_800_000_000_000)));
    let (sa, sb) = tokio::join!(
        PgStore::connect(&db.url, PgOptions::default(), secrets()),
        PgStore::connect(&db.url, PgOptions::default(), secrets()),
    );
    let a = engine(sa.unwrap(), clock.clone(), 1);
    let b = engine(sb.unwrap(), clock.clone(), 2);
    let key = a.bootstrap().await.unwrap().unwrap();
    assert!(
        b.bootstrap().await.unwrap().is_none(),
        "one bootstrap per database"
    );
    let admin = b
        .authenticate(key.key.id.as_str(), &key.secret)
        .await
        .unwrap();
    let mut n = NewService::named("Acme");
    n.custom_code_enabled = Some(true);
    n.max_check_attempts = Some(30);
    n.max_sends = Some(20);
    let service = a.create_service(&admin, n).await.unwrap();
    Nodes {
        db,
        a,
        b,
        clock,
        admin,
        service,
    }
}

fn sms(to: &str, code: &str) -> StartInput {
    StartInput {
        custom_code: Some(Code::custom(code, "custom_code").unwrap()),
        ..StartInput::new(
            Destination::Phone(PhoneE164::parse(to, "to").unwrap()),
            Channel::Sms,
        )
    }
}

async fn raw(url: &str) -> tokio_postgres::Client {
    let (c, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    c
}

#[tokio::test]
async fn migrations_are_recorded_once_even_when_nodes_start_together() {
    let db = TestDatabase::create().await;
    let starts = futures_join(&db.url).await;
    for s in &starts {
        assert!(s.is_ok(), "{:?}", s.as_ref().err());
    }
    assert_eq!(
        PgStore::migrate_url(&db.url, PgOptions::default())
            .await
            .unwrap(),
        0
    );
    let c = raw(&db.url).await;
    let versions: Vec<i64> = c
        .query(
            "SELECT version FROM otpd_schema_migrations ORDER BY version",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(versions, (1..=MIGRATIONS.len() as i64).collect::<Vec<_>>());
    let sync: String = c
        .query_one("SHOW synchronous_commit", &[])
        .await
        .unwrap()
        .get(0);
    assert!(!sync.is_empty());
}

async fn futures_join(url: &str) -> Vec<Result<PgStore>> {
    let mut tasks = Vec::new();
    for _ in 0..4 {
        let url = url.to_owned();
        tasks.push(tokio::spawn(async move {
            PgStore::connect(&url, PgOptions::default(), secrets()).await
        }));
    }
    let mut out = Vec::new();
    for t in tasks {
        out.push(t.await.unwrap());
    }
    out
}

#[tokio::test]
async fn sessions_commit_synchronously() {
    let db = TestDatabase::create().await;
    let store = PgStore::connect(&db.url, PgOptions::default(), secrets())
        .await
        .unwrap();
    let c = store.conn().await.unwrap();
    let sync: String = c
        .query_one("SHOW synchronous_commit", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(sync, "on");
}

#[tokio::test]
async fn no_stored_column_holds_the_code() {
    let n = nodes().await;
    n.a.start_verification(
        &n.admin,
        n.service.id.as_str(),
        sms("+14155552671", "918273"),
    )
    .await
    .unwrap();
    let c = raw(&n.db.url).await;
    let tables: Vec<String> = c
        .query(
            "SELECT table_name::text FROM information_schema.tables WHERE table_schema = 'public'",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert!(tables.len() >= 6, "{tables:?}");
    for t in tables {
        let rows = c
            .query(&format!("SELECT t::text FROM \"{t}\" t"), &[])
            .await
            .unwrap();
        for r in rows {
            let text: String = r.get(0);
            assert!(!text.contains("918273"), "{t}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn right_checks_split_across_two_nodes_approve_once() {
    let n = nodes().await;
    let v =
        n.a.start_verification(
            &n.admin,
            n.service.id.as_str(),
            sms("+14155552671", "424242"),
        )
        .await
        .unwrap()
        .verification;
    let mut tasks = Vec::new();
    for i in 0..20 {
        let engine = if i % 2 == 0 { n.a.clone() } else { n.b.clone() };
        let (admin, sid, id) = (n.admin.clone(), n.service.id.clone(), v.id.clone());
        tasks.push(tokio::spawn(async move {
            engine
                .check_verification(
                    &admin,
                    sid.as_str(),
                    id.as_str(),
                    Code::candidate("424242", "code").unwrap(),
                )
                .await
                .unwrap()
                .outcome
                .valid
        }));
    }
    let mut approvals = 0;
    for t in tasks {
        approvals += t.await.unwrap() as usize;
    }
    assert_eq!(approvals, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn wrong_checks_split_across_two_nodes_are_all_counted() {
    let n = nodes().await;
    let v =
        n.a.start_verification(
            &n.admin,
            n.service.id.as_str(),
            sms("+14155552671", "424242"),
        )
        .await
        .unwrap()
        .verification;
    let mut tasks = Vec::new();
    for i in 0..12 {
        let engine = if i % 2 == 0 { n.a.clone() } else { n.b.clone() };
        let (admin, sid, id) = (n.admin.clone(), n.service.id.clone(), v.id.clone());
        tasks.push(tokio::spawn(async move {
            engine
                .check_verification(
                    &admin,
                    sid.as_str(),
                    id.as_str(),
                    Code::candidate("000000", "code").unwrap(),
                )
                .await
                .unwrap()
                .outcome
                .attempts_remaining
        }));
    }
    let mut remaining = Vec::new();
    for t in tasks {
        remaining.push(t.await.unwrap());
    }
    remaining.sort();
    assert_eq!(remaining, (18..=29).collect::<Vec<u32>>());
    let stored =
        n.b.store
            .verification(&n.admin.tenant_id, &n.service.id, &v.id)
            .await
            .unwrap()
            .unwrap();
    assert_eq!(stored.attempts, 12);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_send_limit_counts_both_nodes_sends() {
    let n = nodes().await;
    let mut tasks = Vec::new();
    for i in 0..12 {
        let engine = if i % 2 == 0 { n.a.clone() } else { n.b.clone() };
        let (admin, sid) = (n.admin.clone(), n.service.id.clone());
        tasks.push(tokio::spawn(async move {
            engine
                .start_verification(&admin, sid.as_str(), sms("+14155552671", "123456"))
                .await
        }));
    }
    let (mut ok, mut limited) = (0, 0);
    for t in tasks {
        match t.await.unwrap() {
            Ok(_) => ok += 1,
            Err(Error::RateLimited { .. }) => limited += 1,
            Err(e) => panic!("{e:?}"),
        }
    }
    assert_eq!((ok, limited), (5, 7), "the default limit is 5 per 600 s");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_nodes_claim_each_job_once() {
    let n = nodes().await;
    for i in 0..40 {
        n.a.start_verification(
            &n.admin,
            n.service.id.as_str(),
            sms(&format!("+141555526{i:02}"), "123456"),
        )
        .await
        .unwrap();
    }
    let now = n.a.clock.now();
    let mut tasks = Vec::new();
    for i in 0..8 {
        let store = if i % 2 == 0 {
            n.a.store.clone()
        } else {
            n.b.store.clone()
        };
        tasks.push(tokio::spawn(async move {
            let mut mine = Vec::new();
            loop {
                let got = store.claim_jobs(now, 3, 30_000).await.unwrap();
                if got.is_empty() {
                    return mine;
                }
                mine.extend(got.into_iter().map(|j| j.id));
            }
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    let claimed = all.len();
    all.sort();
    all.dedup();
    assert_eq!(claimed, 40, "every job claimed");
    assert_eq!(all.len(), 40, "no job claimed twice");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sweepers_on_both_nodes_expire_each_row_once() {
    let n = nodes().await;
    for i in 0..30 {
        n.a.start_verification(
            &n.admin,
            n.service.id.as_str(),
            sms(&format!("+141555526{i:02}"), "123456"),
        )
        .await
        .unwrap();
    }
    n.clock.advance_secs(601);
    let now = n.a.clock.now();
    let (ra, rb) = tokio::join!(n.a.store.sweep(now, 3600), n.b.store.sweep(now, 3600));
    let (ra, rb) = (ra.unwrap(), rb.unwrap());
    let (ra2, rb2) = tokio::join!(n.a.store.sweep(now, 3600), n.b.store.sweep(now, 3600));
    let total = ra.expired + rb.expired + ra2.unwrap().expired + rb2.unwrap().expired;
    assert_eq!(total, 60, "30 verifications and their 30 jobs, each once");
}

#[tokio::test]
async fn an_unreachable_database_fails_fast_as_unavailable() {
    // A port nothing listens on: bind one, then free it.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("postgres://postgres@127.0.0.1:{port}/otpd");
    let started = std::time::Instant::now();
    match PgStore::connect(&url, PgOptions::default(), secrets()).await {
        Err(Error::Unavailable(m)) => {
            assert!(m.contains("database_url"), "{m}");
            assert!(m.contains(&format!("127.0.0.1:{port}/otpd")), "{m}");
        }
        other => panic!("{:?}", other.map(|_| ())),
    }
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
}

#[test]
fn bad_urls_name_the_setting() {
    let e = pool::parse_url("postgres://localhost:notaport/otpd").unwrap_err();
    assert!(e.to_string().contains("database_url"), "{e}");
    let (_, target) = pool::parse_url("postgres://u:secretpw@db.internal:6543/otpd").unwrap();
    assert_eq!(target, "db.internal:6543/otpd");
}
