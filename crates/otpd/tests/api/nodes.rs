//! Two real `otpd` processes on one PostgreSQL database, as behind a load balancer. These run
//! on PostgreSQL whatever `TEST_DATABASE` says: several nodes need it.

use crate::binary::{Place, Server, spawn_server_in};
use futures::future::join_all;
use otpd_store::testing::TestDatabase;
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::time::Duration;

pub(crate) struct TwoNodes {
    pub(crate) db: TestDatabase,
    pub(crate) a: Server,
    pub(crate) b: Server,
    pub(crate) key: (String, String),
    pub(crate) sid: String,
    _dirs: (tempfile::TempDir, tempfile::TempDir),
}

/// Node A starts first (migrates, prints the bootstrap key), then node B. Both run two
/// delivery workers; the lease is short so a dead node's jobs come back quickly.
async fn two_nodes(service: Value) -> TwoNodes {
    let db = TestDatabase::create().await;
    let env = [
        ("OTPD_DELIVERY__WORKERS", "2"),
        ("OTPD_DELIVERY__LEASE_SECONDS", "5"),
        // Both nodes must read one master key: codes and keys are MACs under it.
        (
            "OTPD_SERVER_KEY",
            "5f2b9c0e1d3a4b5c6d7e8f90123456789abcdef0123456789abcdef012345678",
        ),
    ];
    let (dir_a, db_env) = Place::node_on(&db);
    let a = spawn_server_in(dir_a.path(), &db_env, &env);
    let key = a.bootstrap_key();
    let (dir_b, db_env) = Place::node_on(&db);
    let b = spawn_server_in(dir_b.path(), &db_env, &env);
    let mut body = json!({"name": "Acme", "custom_code_enabled": true});
    if let (Some(b), Some(e)) = (body.as_object_mut(), service.as_object()) {
        b.extend(e.clone());
    }
    let r = a.post(&key, "/v1/services", body).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let sid = r.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    TwoNodes {
        db,
        a,
        b,
        key,
        sid,
        _dirs: (dir_a, dir_b),
    }
}

impl TwoNodes {
    fn node(&self, i: usize) -> &Server {
        if i.is_multiple_of(2) {
            &self.a
        } else {
            &self.b
        }
    }

    async fn start(&self, node: &Server, to: &str, code: &str) -> reqwest::Response {
        node.post(
            &self.key,
            &format!("/v1/services/{}/verifications", self.sid),
            json!({"to": to, "channel": "sms", "custom_code": code}),
        )
        .await
    }

    async fn check(&self, node: &Server, id: &str, code: &str) -> Value {
        let r = node
            .post(
                &self.key,
                &format!("/v1/services/{}/verifications/{id}/check", self.sid),
                json!({"code": code}),
            )
            .await;
        assert_eq!(r.status(), StatusCode::OK);
        r.json().await.unwrap()
    }

    async fn outbox(&self, node: &Server) -> Vec<Value> {
        node.get(&self.key, "/v1/outbox?limit=1000")
            .await
            .json()
            .await
            .unwrap()
    }
}

async fn id_of(r: reqwest::Response) -> String {
    assert_eq!(r.status(), StatusCode::CREATED);
    r.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn created_on_one_node_checked_on_the_other_exactly() {
    let n = two_nodes(json!({"max_check_attempts": 20})).await;

    // Created on A, read and approved on B.
    let id = id_of(n.start(&n.a, "+14155552671", "482913").await).await;
    let got =
        n.b.get(
            &n.key,
            &format!("/v1/services/{}/verifications/{id}", n.sid),
        )
        .await;
    assert_eq!(got.json::<Value>().await.unwrap()["status"], "pending");
    assert_eq!(n.check(&n.b, &id, "482913").await["valid"], true);

    // 20 concurrent right checks, half on each node: one approval.
    let id = id_of(n.start(&n.b, "+14155552672", "551177").await).await;
    let results = join_all((0..20).map(|i| n.check(n.node(i), &id, "551177"))).await;
    assert_eq!(results.iter().filter(|r| r["valid"] == true).count(), 1);
    assert!(results.iter().all(|r| r["status"] == "approved"));

    // 12 concurrent wrong checks, half on each node: every one counted.
    let id = id_of(n.start(&n.a, "+14155552673", "662288").await).await;
    let results = join_all((0..12).map(|i| n.check(n.node(i), &id, "000000"))).await;
    let mut remaining: Vec<u64> = results
        .iter()
        .map(|r| r["attempts_remaining"].as_u64().unwrap())
        .collect();
    remaining.sort();
    assert_eq!(remaining, (8..=19).collect::<Vec<u64>>());
    let got: Value =
        n.a.get(
            &n.key,
            &format!("/v1/services/{}/verifications/{id}", n.sid),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(got["failed_attempts"], 12);
    n.a.terminate();
    n.b.terminate();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn send_limit_and_deliveries_hold_across_nodes() {
    let n = two_nodes(json!({"max_sends": 20, "send_limit": {"count": 4, "window_seconds": 600}}))
        .await;

    // 10 concurrent sends to one number, half on each node: the limit of 4 holds in total.
    let results = join_all((0..10).map(|i| n.start(n.node(i), "+14155550100", "123456"))).await;
    let statuses: Vec<StatusCode> = results.iter().map(|r| r.status()).collect();
    let ok = statuses
        .iter()
        .filter(|s| **s == StatusCode::CREATED)
        .count();
    let limited = statuses
        .iter()
        .filter(|s| **s == StatusCode::TOO_MANY_REQUESTS)
        .count();
    assert_eq!((ok, limited), (4, 6), "{statuses:?}");

    // 30 more numbers, sent through both nodes while both nodes' workers run: every job is
    // delivered exactly once.
    let nodes = &n;
    join_all((0..30).map(|i| async move {
        let r = nodes
            .start(nodes.node(i), &format!("+141555502{i:02}"), "123456")
            .await;
        assert_eq!(r.status(), StatusCode::CREATED);
    }))
    .await;
    // The four accepted sends to the limited number are one verification and three resends;
    // a resend drops its predecessor's job if no worker has claimed it yet (that code is
    // dead), so that number gets between one and four messages, depending on the race.
    let numbers = |msgs: &[Value]| {
        let mut to: Vec<&str> = msgs.iter().filter_map(|m| m["to"].as_str()).collect();
        to.sort();
        to.dedup();
        to.len()
    };
    for _ in 0..100 {
        if numbers(&n.outbox(&n.b).await) >= 31 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Let any double delivery show up before counting.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let msgs = n.outbox(&n.a).await;
    let total = msgs.len();
    let resends = msgs.iter().filter(|m| m["to"] == "+14155550100").count();
    assert!(
        (1..=4).contains(&resends),
        "{resends} messages to the limited number"
    );
    assert_eq!(total, 30 + resends, "each of the 30 numbers exactly once");
    assert_eq!(numbers(&msgs), 31);
    n.a.terminate();
    n.b.terminate();
    drop(n.db);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn when_node_a_is_killed_node_b_serves_everything() {
    let n = two_nodes(json!({})).await;
    let mut ids = Vec::new();
    for i in 0..5 {
        ids.push(
            id_of(
                n.start(&n.a, &format!("+1415555030{i}"), &format!("70000{i}"))
                    .await,
            )
            .await,
        );
    }
    let TwoNodes {
        db: _db,
        a,
        b,
        key,
        sid,
        _dirs,
    } = n;
    a.kill9();
    for (i, id) in ids.iter().enumerate() {
        let r = b
            .post(
                &key,
                &format!("/v1/services/{sid}/verifications/{id}/check"),
                json!({"code": format!("70000{i}")}),
            )
            .await;
        assert_eq!(r.json::<Value>().await.unwrap()["valid"], true, "{i}");
    }
    // New work goes through B alone, and every delivery A had queued or leased goes out.
    let r = b
        .post(
            &key,
            &format!("/v1/services/{sid}/verifications"),
            json!({"to": "+14155550399", "channel": "sms"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    // Delivery is at least once: a job A was sending when it died is sent again by B once
    // its lease runs out, so every number gets its code, some possibly twice.
    let mut numbers = Vec::new();
    for _ in 0..150 {
        let msgs: Vec<Value> = b
            .get(&key, "/v1/outbox?limit=100")
            .await
            .json()
            .await
            .unwrap();
        numbers = msgs
            .iter()
            .map(|m| m["to"].as_str().unwrap().to_owned())
            .collect();
        numbers.sort();
        numbers.dedup();
        if numbers.len() == 6 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(numbers.len(), 6, "{numbers:?}");
    let ready = reqwest::get(format!("{}/readyz", b.base)).await.unwrap();
    assert_eq!(ready.status(), StatusCode::OK);
    b.terminate();
}
