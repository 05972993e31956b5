//! The smpp provider against the Net::SMPP SMSC: GSM-7 and UCS-2 texts arrive intact, receipts
//! mark deliveries delivered, a wrong bind password is a clear error, a rejected destination
//! fails the delivery, and when the SMSC dies SMS fail over to the twilio provider (WireMock)
//! and the session reconnects once the SMSC is back.

use crate::support::*;
use otpd_core::destination::{Channel, Destination};
use otpd_core::engine::StartInput;
use otpd_core::ports::Store;
use otpd_delivery::smpp::{Receipts, SmppProvider, SmppSettings};
use otpd_delivery::twilio::{TwilioProvider, TwilioSettings};
use otpd_delivery::{OutboundMessage, Provider, Rendered, Routes};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn net_smpp_installed() -> bool {
    Command::new("perl")
        .args(["-MNet::SMPP", "-e", "1"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

struct Smsc {
    peer: Peer,
    out: PathBuf,
    _dir: tempfile::TempDir,
}

async fn start_smsc(port: u16, out: &Path, dlr: bool, env: &[(&str, &str)]) -> Peer {
    let child = grouped("perl")
        .arg(peers_dir().join("smsc/smsc_netsmpp.pl"))
        .arg(port.to_string())
        .arg(out)
        .arg(if dlr { "1" } else { "0" })
        .envs(env.iter().copied())
        .stdout(
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(out.with_extension("log"))
                .unwrap(),
        )
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let peer = Peer { child, port };
    wait_port(port, Duration::from_secs(20)).await;
    peer
}

async fn smsc(dlr: bool, env: &[(&str, &str)]) -> Option<Smsc> {
    require(
        net_smpp_installed(),
        "Net::SMPP (apt-get install libnet-smpp-perl)",
    )?;
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("submits.jsonl");
    let peer = start_smsc(free_port(), &out, dlr, env).await;
    Some(Smsc {
        peer,
        out,
        _dir: dir,
    })
}

impl Smsc {
    fn provider(&self, f: &Fixture, extra: Value) -> Arc<SmppProvider> {
        let mut s = json!({
            "host": "127.0.0.1", "port": self.peer.port, "system_id": "otpd", "password": "pw",
            "source_addr": "Acme", "reconnect_max_seconds": 1, "submit_timeout_seconds": 5,
        });
        for (k, v) in extra.as_object().unwrap() {
            s[k] = v.clone();
        }
        let settings: SmppSettings = serde_json::from_value(s).unwrap();
        let receipts = Receipts {
            provider: "smsc".into(),
            store: f.store.clone(),
            clock: f.clock.clone(),
        };
        Arc::new(SmppProvider::new("smsc", &settings, receipts).unwrap())
    }

    fn submits(&self) -> Vec<Value> {
        std::fs::read_to_string(&self.out)
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }
}

async fn status_becomes(f: &Fixture, v: &otpd_core::verification::Verification, want: &str) {
    let until = Instant::now() + Duration::from_secs(15);
    loop {
        let d = f.store.latest_delivery(&v.id).await.unwrap().unwrap();
        if d.status.as_str() == want {
            return;
        }
        assert!(
            Instant::now() < until,
            "delivery stayed {:?}, wanted {want}",
            d.status
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn start_with_message(
    f: &Fixture,
    to: &str,
    message: &str,
    code: &str,
) -> otpd_core::verification::Verification {
    f.engine
        .start_verification(
            &f.admin,
            &f.service,
            StartInput {
                custom_code: Some(otpd_core::code::Code::custom(code, "c").unwrap()),
                message: Some(message.into()),
                ..StartInput::new(
                    Destination::parse_for(Channel::Sms, to, "to").unwrap(),
                    Channel::Sms,
                )
            },
        )
        .await
        .unwrap()
        .verification
}

#[tokio::test]
async fn gsm7_and_ucs2_arrive_intact_and_receipts_mark_them_delivered() {
    let Some(smsc) = smsc(true, &[]).await else {
        return;
    };
    let f = fixture().await;
    let w = f.worker(Routes::all_through(smsc.provider(&f, json!({}))));
    let v1 = f.start("+14155552671", Channel::Sms, "428913").await;
    let v2 = start_with_message(&f, "+4915112345678", "Ваш код €:", "771203").await;
    assert_eq!(w.run_once().await.unwrap(), 2);
    let mut subs = smsc.submits();
    subs.sort_by_key(|s| s["data_coding"].as_u64());
    assert_eq!(subs.len(), 2, "{subs:?}");
    assert_eq!(subs[0]["data_coding"], 0);
    assert_eq!(
        subs[0]["short_message"],
        "Your Acme verification code is: 428913"
    );
    assert_eq!(subs[0]["destination"], "14155552671");
    assert_eq!(
        (subs[0]["source"].as_str(), subs[0]["source_ton"].as_u64()),
        (Some("Acme"), Some(5))
    );
    assert_eq!(subs[0]["registered_delivery"], 1);
    assert_eq!(subs[1]["data_coding"], 8);
    assert_eq!(subs[1]["short_message"], "Ваш код €: 771203");
    assert_eq!(subs[1]["destination"], "4915112345678");
    status_becomes(&f, &v1, "delivered").await;
    status_becomes(&f, &v2, "delivered").await;
    let d = f.store.latest_delivery(&v1.id).await.unwrap().unwrap();
    let ids: Vec<&str> = subs
        .iter()
        .filter_map(|s| s["message_id"].as_str())
        .collect();
    assert!(
        ids.contains(&d.provider_ref.as_deref().unwrap()),
        "receipt mapped by message id"
    );
    assert!(f.check(&v1, "428913").await);
}

#[tokio::test]
async fn packed_gsm7_arrives_intact() {
    let Some(smsc) = smsc(false, &[]).await else {
        return;
    };
    let f = fixture().await;
    let p = smsc.provider(&f, json!({"gsm7_packed": true}));
    let msg = OutboundMessage {
        tenant_id: "t".into(),
        channel: Channel::Sms,
        to: "+14155552671".into(),
        body: Rendered::Text("hellohello".into()),
        sender: None,
        idempotency_key: "1-1".into(),
        locale: "en".into(),
    };
    p.send(&msg).await.unwrap();
    let subs = smsc.submits();
    assert_eq!(subs[0]["short_message_hex"], "e8329bfd4697d9ec37");
}

#[tokio::test]
async fn a_wrong_bind_password_is_a_clear_error() {
    let Some(smsc) = smsc(false, &[("SMSC_PASSWORD", "right")]).await else {
        return;
    };
    let f = fixture().await;
    let p = smsc.provider(&f, json!({"password": "wrong"}));
    let msg = OutboundMessage {
        tenant_id: "t".into(),
        channel: Channel::Sms,
        to: "+14155552671".into(),
        body: Rendered::Text("x".into()),
        sender: None,
        idempotency_key: "1-1".into(),
        locale: "en".into(),
    };
    let e = p.send(&msg).await.unwrap_err().to_string();
    assert!(
        e.contains("ESME_RINVPASWD") && e.contains("password"),
        "{e}"
    );
    assert!(!e.contains("wrong"), "the password is not echoed: {e}");
    assert!(smsc.submits().is_empty());
}

#[tokio::test]
async fn a_rejected_destination_fails_the_delivery() {
    let Some(smsc) = smsc(false, &[("SMSC_REJECT_DEST", "14155550100")]).await else {
        return;
    };
    let f = fixture().await;
    let w = f.worker(Routes::all_through(smsc.provider(&f, json!({}))));
    let v = f.start("+14155550100", Channel::Sms, "428913").await;
    w.run_once().await.unwrap();
    f.clock.advance_secs(60);
    assert_eq!(w.run_once().await.unwrap(), 0, "not retried");
    let d = f.store.latest_delivery(&v.id).await.unwrap().unwrap();
    assert_eq!(d.status.as_str(), "failed");
}

#[tokio::test]
async fn a_dead_smsc_fails_over_to_twilio_and_the_session_reconnects() {
    let Some(mut smsc) = smsc(false, &[]).await else {
        return;
    };
    let Some((wm, _root)) = wiremock().await else {
        return;
    };
    let f = fixture().await;
    let smpp: Arc<dyn Provider> = smsc.provider(&f, json!({}));
    let tw: TwilioSettings = serde_json::from_value(json!({
        "base_url": format!("http://127.0.0.1:{}", wm.port),
        "account_sid": TWILIO_SID, "auth_token": TWILIO_TOKEN, "from": "+15550001111",
    }))
    .unwrap();
    let twilio: Arc<dyn Provider> = Arc::new(TwilioProvider::new("twilio", &tw).unwrap());
    let routes = Routes::new(HashMap::from([(Channel::Sms, vec![smpp, twilio])])).unwrap();
    let w = f.worker(routes);

    let v1 = f.start("+14155552671", Channel::Sms, "111111").await;
    w.run_once().await.unwrap();
    assert_eq!(smsc.submits().len(), 1);

    let port = smsc.peer.port;
    smsc.peer.kill();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let v2 = f.start("+14155552672", Channel::Sms, "222222").await;
    w.run_once().await.unwrap();
    let d2 = f.store.latest_delivery(&v2.id).await.unwrap().unwrap();
    assert_eq!(
        (d2.status.as_str(), d2.provider.as_deref()),
        ("sent", Some("twilio"))
    );
    let count: Value = reqwest::Client::new()
        .post(format!(
            "http://127.0.0.1:{}/__admin/requests/count",
            wm.port
        ))
        .json(
            &json!({"method": "POST", "urlPathPattern": "/2010-04-01/Accounts/.*/Messages\\.json"}),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(count["count"], 1);

    // The SMSC comes back on the same port: the session binds again by itself.
    smsc.peer = start_smsc(port, &smsc.out, false, &[]).await;
    let until = Instant::now() + Duration::from_secs(15);
    let mut n = 3;
    loop {
        let v = f
            .start(&format!("+1415555267{n}"), Channel::Sms, "333333")
            .await;
        w.run_once().await.unwrap();
        let d = f.store.latest_delivery(&v.id).await.unwrap().unwrap();
        if d.provider.as_deref() == Some("smsc") {
            break;
        }
        assert!(Instant::now() < until, "the SMPP session did not come back");
        n += 1;
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert_eq!(smsc.submits().len(), 2);
    assert_eq!(
        f.store
            .latest_delivery(&v1.id)
            .await
            .unwrap()
            .unwrap()
            .provider
            .as_deref(),
        Some("smsc")
    );
}

#[tokio::test]
async fn closing_the_provider_unbinds() {
    let Some(smsc) = smsc(false, &[]).await else {
        return;
    };
    let f = fixture().await;
    let p = smsc.provider(&f, json!({}));
    let msg = OutboundMessage {
        tenant_id: "t".into(),
        channel: Channel::Sms,
        to: "+14155552671".into(),
        body: Rendered::Text("x".into()),
        sender: None,
        idempotency_key: "1-1".into(),
        locale: "en".into(),
    };
    p.send(&msg).await.unwrap();
    p.close().await;
    // The SMSC writes its log line just after it answers the unbind.
    let until = Instant::now() + Duration::from_secs(5);
    let mut log = String::new();
    while Instant::now() < until {
        log = std::fs::read_to_string(smsc.out.with_extension("log")).unwrap();
        if log.contains("UNBOUND otpd") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        log.contains("BOUND TRX otpd") && log.contains("UNBOUND otpd"),
        "{log}"
    );
    let e = p.send(&msg).await.unwrap_err().to_string();
    assert!(e.contains("shutting down"), "{e}");
}
