//! What each scenario sends. All of them run against a service the bench creates for itself
//! (custom codes on, send limits out of the way, a short TTL so leftovers expire soon).

use super::BenchOptions;
use super::client::{Conn, Target};
use hyper::Method;
use hyper::body::Bytes;
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scenario {
    Send,
    Check,
    Mixed,
}

impl Scenario {
    pub fn parse(s: &str) -> Result<Scenario, String> {
        match s {
            "send" => Ok(Scenario::Send),
            "check" => Ok(Scenario::Check),
            "mixed" => Ok(Scenario::Mixed),
            _ => Err("--scenario must be send, check or mixed".into()),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Scenario::Send => "send",
            Scenario::Check => "check",
            Scenario::Mixed => "mixed",
        }
    }
}

const CODE: &str = "482913";
const AREAS: [u32; 10] = [415, 212, 312, 617, 206, 303, 404, 512, 702, 808];
/// The exchange's first digit; the counter's first two digits follow it.
const EXCHANGE_FIRST: [u32; 7] = [2, 3, 4, 5, 6, 7, 8];
/// How many distinct numbers `phone` yields before it repeats.
const PHONES: u64 = AREAS.len() as u64 * EXCHANGE_FIRST.len() as u64 * 1_000_000;
/// More destinations than a bench run can send to per second of wall time.
const PHONES_PER_SECOND: u64 = 100_000;
/// The bench service's TTL: a verification left pending by one run ends within it.
const TTL_SECONDS: u64 = 300;
// The numbers come round again only after every verification of an earlier run has ended.
const _: () = assert!(PHONES / PHONES_PER_SECOND > TTL_SECONDS);

/// The n-th distinct, valid US number (70 million before they repeat): area code, an exchange
/// starting with 2-8, six digits.
pub fn phone(n: u64) -> String {
    let n = n % PHONES;
    let area = AREAS[((n / 1_000_000) % AREAS.len() as u64) as usize];
    let exchange = EXCHANGE_FIRST[(n / (1_000_000 * AREAS.len() as u64)) as usize];
    format!("+1{area}{exchange}{:06}", n % 1_000_000)
}

/// Destinations in the order the bench takes them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Destinations {
    /// Spread over the whole space, as real traffic is: consecutive sends land on unrelated
    /// pages of every index keyed by destination.
    Scattered,
    /// Consecutive numbers: every index keyed by destination grows at one spot, which keeps
    /// its pages in cache and shares them between the sends of one commit. The only order
    /// before 2026-12-07 (night); kept to compare with those figures.
    Sequential,
}

impl Destinations {
    pub fn parse(s: &str) -> Result<Destinations, String> {
        match s {
            "scattered" => Ok(Destinations::Scattered),
            "sequential" => Ok(Destinations::Sequential),
            _ => Err("--destinations must be scattered or sequential".into()),
        }
    }
}

/// Multiplying by a number prime to `PHONES` (2^7 * 5^7 * 7) permutes the space, so scattered
/// numbers are as distinct as sequential ones.
const SCATTER: u64 = 48_271;
const _: () =
    assert!(!SCATTER.is_multiple_of(2) && !SCATTER.is_multiple_of(5) && !SCATTER.is_multiple_of(7));

/// A run's destinations, shared by its connections.
pub struct Numbers {
    next: AtomicU64,
    order: Destinations,
}

impl Numbers {
    pub fn new(first: u64, order: Destinations) -> Numbers {
        Numbers {
            next: AtomicU64::new(first),
            order,
        }
    }

    /// The next destination's index for `phone`.
    pub fn take(&self) -> u64 {
        let n = self.next.fetch_add(1, Ordering::Relaxed) % PHONES;
        match self.order {
            Destinations::Sequential => n,
            Destinations::Scattered => n * SCATTER % PHONES,
        }
    }
}

/// Where a run's destinations start: `PHONES_PER_SECOND` numbers on per second of the clock, so
/// a run never reaches numbers that an earlier run sent to while those verifications can still
/// be pending (the space lasts 700 s, longer than `TTL_SECONDS`): a collision would turn
/// a send into a re-send and a prefilled check into a second check of one verification.
fn first_phone(unix_seconds: u64) -> u64 {
    unix_seconds.wrapping_mul(PHONES_PER_SECOND) % PHONES
}

#[derive(Clone)]
pub enum Workload {
    Health,
    Send {
        service: String,
        numbers: Arc<Numbers>,
    },
    Check {
        service: String,
        ids: Arc<Vec<String>>,
        next: Arc<AtomicUsize>,
    },
    Mixed {
        service: String,
        numbers: Arc<Numbers>,
    },
}

/// Per-connection memory: a mixed pair checks on the same connection what it just sent.
#[derive(Default)]
pub struct ConnState {
    pending_check: Option<u64>,
}

impl Workload {
    /// Method, path, JSON body and the status that counts as success; `None` once `check` has
    /// used every prefilled verification (checking one again would measure a cheaper request:
    /// an ended verification changes nothing).
    pub fn next_request(
        &self,
        st: &mut ConnState,
    ) -> Option<(Method, String, Option<String>, u16)> {
        Some(match self {
            Workload::Health => (Method::GET, "/healthz".into(), None, 200),
            Workload::Send { service, numbers } => send(service, numbers.take()),
            Workload::Check { service, ids, next } => {
                let i = next.fetch_add(1, Ordering::Relaxed);
                (
                    Method::POST,
                    format!("/v1/services/{service}/verifications/{}/check", ids.get(i)?),
                    Some(json!({"code": CODE}).to_string()),
                    200,
                )
            }
            Workload::Mixed { service, numbers } => match st.pending_check.take() {
                Some(n) => (
                    Method::POST,
                    format!("/v1/services/{service}/checks"),
                    Some(json!({"to": phone(n), "code": CODE}).to_string()),
                    200,
                ),
                None => {
                    let n = numbers.take();
                    st.pending_check = Some(n);
                    send(service, n)
                }
            },
        })
    }
}

fn send(service: &str, n: u64) -> (Method, String, Option<String>, u16) {
    (
        Method::POST,
        format!("/v1/services/{service}/verifications"),
        Some(json!({"to": phone(n), "channel": "sms", "custom_code": CODE}).to_string()),
        201,
    )
}

/// Creates the bench's service and, for `check`, the verifications to check.
pub async fn prepare(target: &Target, opts: &BenchOptions) -> Result<Workload, String> {
    let mut conn = Conn::open(target).await?;
    let body = json!({
        "name": "bench",
        "custom_code_enabled": true,
        "ttl_seconds": TTL_SECONDS,
        "max_sends": 20,
        "send_limit": {"count": 10000, "window_seconds": 1},
    });
    let (status, bytes) = conn
        .call(target, Method::POST, "/v1/services", Some(body.to_string()))
        .await?;
    if status != 201 {
        return Err(format!(
            "creating the bench service answered {status}: {}",
            String::from_utf8_lossy(&bytes)
        ));
    }
    let service = serde_json::from_slice::<Value>(&bytes)
        .ok()
        .and_then(|v| v["id"].as_str().map(str::to_owned))
        .ok_or("the service response has no id")?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let numbers = Arc::new(Numbers::new(first_phone(now), opts.destinations));
    match opts.scenario {
        Scenario::Send => Ok(Workload::Send { service, numbers }),
        Scenario::Mixed => Ok(Workload::Mixed { service, numbers }),
        Scenario::Check => {
            let ids = prefill(target, &service, &numbers, opts).await?;
            settle(target, &service, &ids).await?;
            Ok(Workload::Check {
                service,
                ids: Arc::new(ids),
                next: Arc::new(AtomicUsize::new(0)),
            })
        }
    }
}

/// Waits until the worker has sent the prefill's messages, so that the ceiling and the checks
/// are measured alone rather than beside a backlog of deliveries. Ids are time-ordered: the
/// greatest is among the last created, and jobs go out in the order they fell due.
async fn settle(target: &Target, service: &str, ids: &[String]) -> Result<(), String> {
    match ids.iter().max() {
        Some(last) => until_delivered(target, service, last).await,
        None => Ok(()),
    }
}

/// How long after a run the worker finished delivering what the run created: the deliveries
/// a saturating run left queued show here rather than in its throughput. `created` holds a
/// body of a send the run created on each connection (the last one); the greatest id among
/// them was created last.
pub async fn delivery_lag(
    target: &Target,
    workload: &Workload,
    created: &[Bytes],
) -> Result<Option<Duration>, String> {
    let service = match workload {
        Workload::Send { service, .. } | Workload::Mixed { service, .. } => service,
        Workload::Health | Workload::Check { .. } => return Ok(None),
    };
    let last = created
        .iter()
        .filter_map(|b| serde_json::from_slice::<Value>(b).ok())
        .filter_map(|v| v["id"].as_str().map(str::to_owned))
        .max();
    let Some(last) = last else {
        return Ok(None);
    };
    let started = Instant::now();
    until_delivered(target, service, &last).await?;
    Ok(Some(started.elapsed()))
}

/// Polls a verification until its delivery is no longer queued or being sent.
async fn until_delivered(target: &Target, service: &str, id: &str) -> Result<(), String> {
    let mut conn = Conn::open(target).await?;
    let path = format!("/v1/services/{service}/verifications/{id}");
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        let (status, bytes) = conn.call(target, Method::GET, &path, None).await?;
        let delivery = serde_json::from_slice::<Value>(&bytes)
            .ok()
            .and_then(|v| v["delivery"]["status"].as_str().map(str::to_owned));
        match (status, delivery.as_deref()) {
            (200, Some("queued" | "sending")) if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            (200, Some("queued" | "sending")) => {
                return Err("deliveries did not finish within 10 minutes".into());
            }
            (200, _) => return Ok(()),
            _ => {
                return Err(format!(
                    "reading verification {id} answered {status}: {}",
                    String::from_utf8_lossy(&bytes)
                ));
            }
        }
    }
}

async fn prefill(
    target: &Target,
    service: &str,
    numbers: &Arc<Numbers>,
    opts: &BenchOptions,
) -> Result<Vec<String>, String> {
    let remaining = Arc::new(AtomicUsize::new(opts.prefill));
    let mut tasks = Vec::new();
    for _ in 0..opts.connections.min(64) {
        let (remaining, numbers, service) =
            (remaining.clone(), numbers.clone(), service.to_owned());
        let mut conn = Conn::open(target).await?;
        let target = Target {
            host: target.host.clone(),
            authorization: target.authorization.clone(),
        };
        tasks.push(tokio::spawn(async move {
            let mut ids = Vec::new();
            while remaining
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |r| r.checked_sub(1))
                .is_ok()
            {
                let (m, path, body, _) = send(&service, numbers.take());
                let (status, bytes) = conn.call(&target, m, &path, body).await?;
                if status != 201 {
                    return Err(format!(
                        "prefill answered {status}: {}",
                        String::from_utf8_lossy(&bytes)
                    ));
                }
                if let Some(id) = serde_json::from_slice::<Value>(&bytes)
                    .ok()
                    .and_then(|v| v["id"].as_str().map(str::to_owned))
                {
                    ids.push(id);
                }
            }
            Ok::<_, String>(ids)
        }));
    }
    let mut all = Vec::with_capacity(opts.prefill);
    for t in tasks {
        all.extend(t.await.map_err(|e| e.to_string())??);
    }
    // Users check their codes in about the order they were sent. Ids begin with their creation
    // time, so sorting restores that order; task by task, every check would land on another
    // stored page (a stride of one row in 64).
    all.sort_unstable();
    // A re-send answers with the id it already gave; checking that twice would measure an
    // ended verification.
    all.dedup();
    Ok(all)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bench_numbers_are_distinct_valid_e164() {
        let mut seen = std::collections::HashSet::new();
        for block in 0..PHONES / 1_000_000 {
            for offset in [0u64, 1, 110_999, 911_000, 999_999] {
                let p = phone(block * 1_000_000 + offset);
                assert!(
                    otpd_core::destination::PhoneE164::parse(&p, "to").is_ok(),
                    "{p}"
                );
                assert!(seen.insert(p.clone()), "{p} twice");
            }
        }
        assert_eq!(phone(PHONES + 5), phone(5));
    }

    #[test]
    fn scattered_numbers_are_distinct_and_far_apart() {
        let numbers = Numbers::new(PHONES - 500_000, Destinations::Scattered);
        let mut seen = std::collections::HashSet::new();
        let mut previous = None;
        for _ in 0..1_000_000 {
            let n = numbers.take();
            assert!(n < PHONES);
            assert!(seen.insert(n), "{n} twice");
            if let Some(p) = previous {
                // Never the neighbour of the one before: not the same spot of an index.
                assert!(n.abs_diff(p) > 1_000, "{p} then {n}");
            }
            previous = Some(n);
        }
        let sequential = Numbers::new(5, Destinations::Sequential);
        assert_eq!((sequential.take(), sequential.take()), (5, 6));
    }

    #[test]
    fn runs_a_second_apart_start_past_what_the_earlier_one_could_send() {
        let (a, b) = (first_phone(1_765_000_000), first_phone(1_765_000_001));
        assert_eq!((b + PHONES - a) % PHONES, PHONES_PER_SECOND);
    }

    #[test]
    fn mixed_checks_what_it_sent_on_the_same_connection() {
        let w = Workload::Mixed {
            service: "VA1".into(),
            numbers: Arc::new(Numbers::new(7, Destinations::Sequential)),
        };
        let mut st = ConnState::default();
        let (_, p1, b1, s1) = w.next_request(&mut st).unwrap();
        let (_, p2, b2, s2) = w.next_request(&mut st).unwrap();
        assert_eq!((s1, s2), (201, 200));
        assert!(p1.ends_with("/verifications") && p2.ends_with("/checks"));
        assert!(b1.unwrap().contains(&phone(7)) && b2.unwrap().contains(&phone(7)));
    }

    #[test]
    fn check_never_checks_a_verification_twice() {
        let w = Workload::Check {
            service: "VA1".into(),
            ids: Arc::new(vec!["VE1".into(), "VE2".into()]),
            next: Arc::new(AtomicUsize::new(0)),
        };
        let mut st = ConnState::default();
        let paths: Vec<String> =
            std::iter::from_fn(|| w.next_request(&mut st).map(|r| r.1)).collect();
        assert_eq!(
            paths,
            [
                "/v1/services/VA1/verifications/VE1/check",
                "/v1/services/VA1/verifications/VE2/check"
            ]
        );
    }
}
