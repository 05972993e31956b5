//! Worker tests on a real SQLite store with scripted providers and a fake clock.

use super::*;
use crate::outbox::OutboxProvider;
use crate::provider::{Provider, SendReceipt};
use async_trait::async_trait;
use otpd_core::clock::{FakeClock, Timestamp};
use otpd_core::code::Code;
use otpd_core::destination::{Destination, PhoneE164};
use otpd_core::engine::{Engine, StartInput};
use otpd_core::random::SeededRandom;
use otpd_core::service::NewService;
use otpd_core::tenant::Principal;
use otpd_core::verification::Status;
use otpd_store::SqliteStore;
use std::collections::HashMap;
use std::sync::Mutex;

/// Answers from a script, then succeeds; records what it was asked to send.
struct Scripted {
    name: &'static str,
    script: Mutex<Vec<Result<(), ProviderError>>>,
    sent: Mutex<Vec<String>>,
    senders: Mutex<Vec<Option<String>>>,
}

impl Scripted {
    fn new(name: &'static str, script: Vec<Result<(), ProviderError>>) -> Arc<Scripted> {
        Arc::new(Scripted {
            name,
            script: Mutex::new(script),
            sent: Mutex::new(vec![]),
            senders: Mutex::new(vec![]),
        })
    }
    fn calls(&self) -> usize {
        self.sent.lock().unwrap().len()
    }
}

#[async_trait]
impl Provider for Scripted {
    fn name(&self) -> &str {
        self.name
    }
    fn supports(&self, _: Channel) -> bool {
        true
    }
    async fn send(&self, msg: &OutboundMessage) -> Result<SendReceipt, ProviderError> {
        self.sent.lock().unwrap().push(msg.body.plain());
        self.senders.lock().unwrap().push(msg.sender.clone());
        let mut s = self.script.lock().unwrap();
        let next = if s.is_empty() { Ok(()) } else { s.remove(0) };
        next.map(|_| SendReceipt {
            provider_ref: Some("ref-1".into()),
            kept: None,
        })
    }
}

pub(super) struct Fixture {
    _dir: tempfile::TempDir,
    pub(super) engine: Arc<Engine>,
    pub(super) clock: Arc<FakeClock>,
    pub(super) store: Arc<SqliteStore>,
    pub(super) secrets: Arc<ServerSecrets>,
    admin: Principal,
    service: String,
}

pub(super) async fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let secrets = Arc::new(ServerSecrets::from_master(&[4u8; 32]).unwrap());
    let store = Arc::new(SqliteStore::open(&dir.path().join("d.db"), secrets.clone()).unwrap());
    let clock = Arc::new(FakeClock::new(Timestamp(1_800_000_000_000)));
    let engine = Arc::new(Engine {
        store: store.clone(),
        clock: clock.clone(),
        rng: Arc::new(SeededRandom::new(3)),
        secrets: secrets.clone(),
        dispatcher: Arc::new(otpd_core::ports::NoDispatch),
    });
    let key = engine.bootstrap().await.unwrap().unwrap();
    let admin = engine
        .authenticate(key.key.id.as_str(), &key.secret)
        .await
        .unwrap();
    let mut n = NewService::named("Acme");
    n.custom_code_enabled = Some(true);
    let service = engine
        .create_service(&admin, n)
        .await
        .unwrap()
        .id
        .to_string();
    Fixture {
        _dir: dir,
        engine,
        clock,
        store,
        secrets,
        admin,
        service,
    }
}

impl Fixture {
    fn worker(&self, routes: Routes) -> Arc<Worker> {
        self.worker_with(
            routes,
            WorkerConfig {
                max_attempts: 3,
                ..WorkerConfig::default()
            },
        )
    }

    pub(super) fn worker_with(&self, routes: Routes, config: WorkerConfig) -> Arc<Worker> {
        Arc::new(Worker {
            store: self.store.clone(),
            clock: self.clock.clone(),
            secrets: self.secrets.clone(),
            routes,
            wakeup: Wakeup::default(),
            config,
        })
    }

    async fn start(&self, code: &str) -> otpd_core::verification::Verification {
        self.start_to("+14155552671", code).await
    }

    async fn start_to(&self, to: &str, code: &str) -> otpd_core::verification::Verification {
        self.engine
            .start_verification(
                &self.admin,
                &self.service,
                StartInput {
                    custom_code: Some(Code::custom(code, "c").unwrap()),
                    ..StartInput::new(
                        Destination::Phone(PhoneE164::parse(to, "to").unwrap()),
                        Channel::Sms,
                    )
                },
            )
            .await
            .unwrap()
            .verification
    }

    async fn status(&self, v: &otpd_core::verification::Verification) -> Status {
        self.engine
            .verification(&self.admin, &self.service, v.id.as_str())
            .await
            .unwrap()
            .status_at(self.clock.now())
    }
}

#[tokio::test]
async fn the_outbox_provider_keeps_the_rendered_message_sealed() {
    let f = fixture().await;
    let outbox: Arc<dyn Provider> = Arc::new(OutboxProvider {
        secrets: f.secrets.clone(),
        rng: Arc::new(SeededRandom::new(8)),
        clock: f.clock.clone(),
    });
    f.start("123456").await;
    let w = f.worker(Routes::all_through(outbox));
    assert_eq!(w.run_once().await.unwrap(), 1);
    let msgs = f
        .engine
        .outbox(&f.admin, Some("+14155552671"), 10)
        .await
        .unwrap();
    assert_eq!(msgs.len(), 1);
    assert_eq!(msgs[0].body, "Your Acme verification code is: 123456");
    assert_eq!(msgs[0].channel, Channel::Sms);
    assert_eq!(w.run_once().await.unwrap(), 0, "delivered once");
}

#[tokio::test]
async fn a_transient_failure_is_retried_with_backoff_and_delivered_once() {
    let f = fixture().await;
    let p = Scripted::new("p", vec![Err(ProviderError::Transient("503".into()))]);
    let w = f.worker(Routes::all_through(p.clone()));
    let v = f.start("123456").await;
    assert_eq!(w.run_once().await.unwrap(), 1);
    assert_eq!(p.calls(), 1);
    assert_eq!(w.run_once().await.unwrap(), 0, "not due before the backoff");
    f.clock.advance_secs(2);
    assert_eq!(w.run_once().await.unwrap(), 1);
    assert_eq!(p.calls(), 2);
    f.clock.advance_secs(120);
    assert_eq!(w.run_once().await.unwrap(), 0);
    assert_eq!(p.calls(), 2, "sent exactly once after the retry");
    assert_eq!(f.status(&v).await, Status::Pending);
}

#[tokio::test]
async fn a_permanent_failure_is_not_retried_and_fails_the_verification() {
    let f = fixture().await;
    let p = Scripted::new(
        "p",
        vec![Err(ProviderError::Permanent("400 invalid number".into()))],
    );
    let w = f.worker(Routes::all_through(p.clone()));
    let v = f.start("123456").await;
    w.run_once().await.unwrap();
    f.clock.advance_secs(60);
    assert_eq!(w.run_once().await.unwrap(), 0);
    assert_eq!(p.calls(), 1);
    assert_eq!(f.status(&v).await, Status::Failed);
}

#[tokio::test]
async fn a_failing_route_fails_over_to_the_next_provider() {
    let f = fixture().await;
    let a = Scripted::new(
        "a",
        vec![Err(ProviderError::Transient("connection refused".into()))],
    );
    let b = Scripted::new("b", vec![]);
    let order: HashMap<Channel, Vec<Arc<dyn Provider>>> = HashMap::from([(
        Channel::Sms,
        vec![a.clone() as Arc<dyn Provider>, b.clone()],
    )]);
    let w = f.worker(Routes::new(order).unwrap());
    f.start("123456").await;
    assert_eq!(w.run_once().await.unwrap(), 1);
    assert_eq!((a.calls(), b.calls()), (1, 1));
    assert!(b.sent.lock().unwrap()[0].ends_with("123456"));
}

#[tokio::test]
async fn retries_stop_after_max_attempts() {
    let f = fixture().await;
    let p = Scripted::new(
        "p",
        (0..10)
            .map(|_| Err(ProviderError::Transient("timeout".into())))
            .collect(),
    );
    let w = f.worker(Routes::all_through(p.clone()));
    let v = f.start("123456").await;
    for _ in 0..6 {
        w.run_once().await.unwrap();
        f.clock.advance_secs(10);
    }
    assert_eq!(p.calls(), 3);
    assert_eq!(f.status(&v).await, Status::Failed);
}

#[tokio::test]
async fn only_the_newest_code_of_a_resent_verification_goes_out() {
    let f = fixture().await;
    let p = Scripted::new("p", vec![]);
    let w = f.worker(Routes::all_through(p.clone()));
    f.start("111111").await;
    f.start("222222").await;
    w.run_once().await.unwrap();
    let sent = p.sent.lock().unwrap().clone();
    assert_eq!(sent.len(), 1);
    assert!(sent[0].ends_with("222222"));
}

#[tokio::test]
async fn a_callers_message_and_sender_reach_the_provider() {
    let f = fixture().await;
    let p = Scripted::new("p", vec![]);
    let w = f.worker(Routes::all_through(p.clone()));
    let mut sms = StartInput::new(
        Destination::Phone(PhoneE164::parse("+14155552671", "to").unwrap()),
        Channel::Sms,
    );
    sms.custom_code = Some(Code::custom("4821", "c").unwrap());
    sms.message = Some("Your Personal Authorization Code is:".into());
    sms.sender = Some("+15550001111".into());
    let mut call = sms.clone();
    call.channel = Some(Channel::Call);
    call.to = Some(Destination::Phone(
        PhoneE164::parse("+14155552672", "to").unwrap(),
    ));
    f.engine
        .start_verification(&f.admin, &f.service, sms)
        .await
        .unwrap();
    f.engine
        .start_verification(&f.admin, &f.service, call)
        .await
        .unwrap();
    w.run_once().await.unwrap();
    let mut sent = p.sent.lock().unwrap().clone();
    sent.sort();
    assert_eq!(
        sent,
        vec![
            "Your Personal Authorization Code is: 4, 8, 2, 1. Your Personal Authorization Code is: 4, 8, 2, 1.".to_owned(),
            "Your Personal Authorization Code is: 4821".to_owned(),
        ]
    );
    assert!(
        p.senders
            .lock()
            .unwrap()
            .iter()
            .all(|s| s.as_deref() == Some("+15550001111"))
    );
}

#[tokio::test]
async fn a_failing_provider_is_skipped_while_its_circuit_is_open_and_probed_later() {
    let f = fixture().await;
    let transient = || Err(ProviderError::Transient("connection refused".into()));
    let a = Scripted::new("a", (0..10).map(|_| transient()).collect());
    let b = Scripted::new("b", vec![]);
    let order = HashMap::from([(
        Channel::Sms,
        vec![a.clone() as Arc<dyn Provider>, b.clone()],
    )]);
    let routes = Routes::new(order)
        .unwrap()
        .with_breaker(crate::breaker::BreakerConfig {
            threshold: 2,
            cooldown: Duration::from_millis(300),
        });
    let w = f.worker(routes);
    let send = |to: &'static str| {
        let f = &f;
        async move {
            f.engine
                .start_verification(
                    &f.admin,
                    &f.service,
                    StartInput::new(
                        Destination::Phone(PhoneE164::parse(to, "to").unwrap()),
                        Channel::Sms,
                    ),
                )
                .await
                .unwrap();
        }
    };
    for to in ["+14155552671", "+14155552672"] {
        send(to).await;
        w.run_once().await.unwrap();
    }
    assert_eq!(
        (a.calls(), b.calls()),
        (2, 2),
        "two failures open the circuit"
    );
    for to in ["+14155552673", "+14155552674"] {
        send(to).await;
        w.run_once().await.unwrap();
    }
    assert_eq!((a.calls(), b.calls()), (2, 4), "skipped while open");
    tokio::time::sleep(Duration::from_millis(350)).await;
    send("+14155552675").await;
    w.run_once().await.unwrap();
    assert_eq!(
        (a.calls(), b.calls()),
        (3, 5),
        "one probe after the cooldown"
    );
}

#[tokio::test]
async fn a_country_route_overrides_the_channel_route() {
    let f = fixture().await;
    let a = Scripted::new("a", vec![]);
    let de = Scripted::new("de", vec![]);
    let routes = Routes::new(HashMap::from([(
        Channel::Sms,
        vec![a.clone() as Arc<dyn Provider>],
    )]))
    .unwrap()
    .with_country("de", Channel::Sms, vec![de.clone() as Arc<dyn Provider>])
    .unwrap();
    assert!(
        routes
            .clone()
            .with_country("DE", Channel::Email, vec![])
            .is_err()
    );
    let w = f.worker(routes);
    for to in ["+14155552671", "+4915112345678"] {
        f.engine
            .start_verification(
                &f.admin,
                &f.service,
                StartInput::new(
                    Destination::Phone(PhoneE164::parse(to, "to").unwrap()),
                    Channel::Sms,
                ),
            )
            .await
            .unwrap();
    }
    w.run_once().await.unwrap();
    assert_eq!((a.calls(), de.calls()), (1, 1));
}

/// Takes its time over each message, optionally waiting at a gate first; counts how many
/// sends were in progress at once.
#[derive(Default)]
pub(super) struct Gated {
    pub(super) gate: Option<tokio::sync::Semaphore>,
    pub(super) delay: Duration,
    pub(super) calls: std::sync::atomic::AtomicUsize,
    pub(super) in_flight: std::sync::atomic::AtomicUsize,
    pub(super) most_in_flight: std::sync::atomic::AtomicUsize,
}

#[async_trait]
impl Provider for Gated {
    fn name(&self) -> &str {
        "gated"
    }
    fn supports(&self, _: Channel) -> bool {
        true
    }
    async fn send(&self, _: &OutboundMessage) -> Result<SendReceipt, ProviderError> {
        use std::sync::atomic::Ordering::SeqCst;
        self.calls.fetch_add(1, SeqCst);
        let now = self.in_flight.fetch_add(1, SeqCst) + 1;
        self.most_in_flight.fetch_max(now, SeqCst);
        if let Some(gate) = &self.gate {
            gate.acquire().await.unwrap().forget();
        }
        tokio::time::sleep(self.delay).await;
        self.in_flight.fetch_sub(1, SeqCst);
        Ok(SendReceipt {
            provider_ref: None,
            kept: None,
        })
    }
}

impl Fixture {
    /// `n` verifications to distinct numbers from +1415555`first`.
    pub(super) async fn start_many(
        &self,
        n: usize,
        first: usize,
    ) -> Vec<otpd_core::verification::Verification> {
        let mut vs = Vec::with_capacity(n);
        for i in 0..n {
            vs.push(
                self.start_to(&format!("+1415555{:04}", first + i), "123456")
                    .await,
            );
        }
        vs
    }

    /// Waits until every one of `vs` has been sent.
    pub(super) async fn until_delivered(&self, vs: &[otpd_core::verification::Verification]) {
        let deadline = Instant::now() + Duration::from_secs(20);
        for v in vs {
            loop {
                let d = self.store.latest_delivery(&v.id).await.unwrap().unwrap();
                if d.status == otpd_core::delivery::JobStatus::Sent {
                    break;
                }
                assert!(Instant::now() < deadline, "{} still {:?}", v.id, d.status);
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_running_worker_claims_again_before_a_batch_ends_and_never_exceeds_its_concurrency() {
    let f = fixture().await;
    let vs = f.start_many(40, 2000).await;
    // Long enough that the first batch is still out when the next claim is committed.
    let provider = Arc::new(Gated {
        delay: Duration::from_millis(250),
        ..Gated::default()
    });
    let w = f.worker_with(
        Routes::all_through(provider.clone()),
        WorkerConfig {
            batch: 5,
            concurrency: 8,
            ..WorkerConfig::default()
        },
    );
    let (stop, stopped) = watch::channel(false);
    let running = tokio::spawn(w.clone().run(stopped));
    f.until_delivered(&vs).await;
    stop.send(true).unwrap();
    running.await.unwrap();

    use std::sync::atomic::Ordering::SeqCst;
    assert_eq!(provider.calls.load(SeqCst), 40, "each delivered once");
    let most = provider.most_in_flight.load(SeqCst);
    // Rounds of 5 would never have more than 5 at once; 8 is the limit.
    assert!((6..=8).contains(&most), "{most} in flight at most");
    assert_eq!(w.run_once().await.unwrap(), 0, "nothing left to claim");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopping_worker_finishes_and_records_the_deliveries_in_flight() {
    let f = fixture().await;
    let vs = f.start_many(3, 3000).await;
    let provider = Arc::new(Gated {
        gate: Some(tokio::sync::Semaphore::new(0)),
        ..Gated::default()
    });
    let w = f.worker(Routes::all_through(provider.clone()));
    let (stop, stopped) = watch::channel(false);
    let running = tokio::spawn(w.clone().run(stopped));
    use std::sync::atomic::Ordering::SeqCst;
    let deadline = Instant::now() + Duration::from_secs(10);
    while provider.in_flight.load(SeqCst) < 3 {
        assert!(Instant::now() < deadline, "the worker never sent");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    stop.send(true).unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(!running.is_finished(), "it waits for the sends in flight");
    provider.gate.as_ref().unwrap().add_permits(3);
    running.await.unwrap();
    // Recorded before `run` returned: no waiting here.
    for v in &vs {
        let d = f.store.latest_delivery(&v.id).await.unwrap().unwrap();
        assert_eq!(d.status, otpd_core::delivery::JobStatus::Sent, "{}", v.id);
    }
    assert_eq!(provider.calls.load(SeqCst), 3);
}
