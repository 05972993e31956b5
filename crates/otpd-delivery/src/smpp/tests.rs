//! Session behaviour no peer offers: throttling answers. A small SMSC written with rusmpp's
//! own codec answers the first submit_sm with ESME_RTHROTTLED and the next with success.

use super::*;
use futures_util::{SinkExt, StreamExt};
use otpd_core::clock::{FakeClock, Timestamp};
use otpd_core::secrets::ServerSecrets;
use rusmpp::pdus::{BindTransceiverResp, SubmitSmResp};
use rusmpp::tokio_codec::CommandCodec;
use rusmpp::{Command, CommandStatus, Pdu};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use tokio_util::codec::Framed;

async fn throttling_smsc(submits: Arc<AtomicUsize>) -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let mut link = Framed::new(tcp, CommandCodec::new());
        while let Some(Ok(cmd)) = link.next().await {
            let n = cmd.sequence_number();
            let answer = match cmd.pdu() {
                Some(Pdu::BindTransceiver(_)) => Command::new(
                    CommandStatus::EsmeRok,
                    n,
                    BindTransceiverResp::builder()
                        .system_id("SMSC".parse().unwrap())
                        .build(),
                ),
                Some(Pdu::SubmitSm(_)) => {
                    let k = submits.fetch_add(1, Ordering::SeqCst);
                    let status = if k == 0 {
                        CommandStatus::EsmeRthrottled
                    } else {
                        CommandStatus::EsmeRok
                    };
                    Command::new(
                        status,
                        n,
                        SubmitSmResp::builder()
                            .message_id(format!("M{k}").parse().unwrap())
                            .build(),
                    )
                }
                Some(Pdu::EnquireLink) => {
                    Command::new(CommandStatus::EsmeRok, n, Pdu::EnquireLinkResp)
                }
                _ => continue,
            };
            link.send(answer).await.unwrap();
        }
    });
    port
}

#[tokio::test]
async fn throttling_slows_the_sender_and_the_message_still_goes_out_once() {
    let submits = Arc::new(AtomicUsize::new(0));
    let port = throttling_smsc(submits.clone()).await;
    let dir = tempfile::tempdir().unwrap();
    let secrets = Arc::new(ServerSecrets::from_master(&[4u8; 32]).unwrap());
    let store = Arc::new(otpd_store::SqliteStore::open(&dir.path().join("d.db"), secrets).unwrap());
    let settings: SmppSettings = serde_json::from_value(serde_json::json!({
        "host": "127.0.0.1", "port": port, "system_id": "otpd", "password": "pw",
        "source_addr": "Acme", "throttle_pause_ms": 300,
    }))
    .unwrap();
    let receipts = Receipts {
        provider: "smsc".into(),
        store,
        clock: Arc::new(FakeClock::new(Timestamp(0))),
    };
    let p = SmppProvider::new("smsc", &settings, receipts).unwrap();
    let msg = OutboundMessage {
        tenant_id: "t".into(),
        channel: Channel::Sms,
        to: "+14155552671".into(),
        body: Rendered::Text("code 1234".into()),
        sender: None,
        idempotency_key: "1-1".into(),
        locale: "en".into(),
    };
    let started = std::time::Instant::now();
    let receipt = p.send(&msg).await.unwrap();
    assert_eq!(receipt.provider_ref.as_deref(), Some("M1"));
    assert_eq!(
        submits.load(Ordering::SeqCst),
        2,
        "resent once after the throttle"
    );
    assert!(
        started.elapsed() >= Duration::from_millis(300),
        "it waited out the pause"
    );
}
