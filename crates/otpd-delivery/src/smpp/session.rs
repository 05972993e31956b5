//! One SMPP 3.4 transceiver session, run as a task: connect, bind_transceiver, then submit with
//! a window of outstanding submit_sm, keep the link alive with enquire_link, answer
//! deliver_sm (receipts), and reconnect with backoff when the link drops. Throttling answers
//! (ESME_RTHROTTLED, ESME_RMSGQFUL) pause sending and resend the same message: they slow the
//! sender rather than fail messages.

use super::receipts::Receipts;
use crate::provider::ProviderError;
use futures_util::{SinkExt, StreamExt};
use rusmpp::pdus::{BindTransceiver, DeliverSm, DeliverSmResp, SubmitSm};
use rusmpp::tlvs::TlvValue;
use rusmpp::tokio_codec::CommandCodec;
use rusmpp::values::{InterfaceVersion, Npi, Ton};
use rusmpp::{Command, CommandStatus, Pdu};
use std::collections::{HashMap, VecDeque};
use std::time::Duration;
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot};
use tokio::time::{Instant, sleep_until, timeout};
use tokio_util::codec::Framed;

pub(super) struct SessionConfig {
    pub provider: String,
    pub host: String,
    pub port: u16,
    pub system_id: String,
    pub password: String,
    pub system_type: String,
    pub window: usize,
    pub enquire_link: Duration,
    pub connect_timeout: Duration,
    pub reconnect_max: Duration,
    pub throttle_pause: Duration,
}

pub(super) struct Submit {
    pub pdu: SubmitSm,
    pub reply: oneshot::Sender<Result<String, ProviderError>>,
}

type Link = Framed<TcpStream, CommandCodec>;

/// Why a session ended.
enum Ended {
    /// The provider is gone: unbound, nothing more to do.
    Closed,
    Lost(String),
}

pub(super) async fn run(cfg: SessionConfig, mut rx: mpsc::Receiver<Submit>, receipts: Receipts) {
    let mut backoff = Duration::from_millis(500);
    loop {
        let reason = match connect_and_bind(&cfg).await {
            Ok(link) => {
                backoff = Duration::from_millis(500);
                tracing::info!(provider = %cfg.provider, "SMPP session bound");
                metrics::gauge!("otpd_smpp_bound", "provider" => cfg.provider.clone()).set(1.0);
                let ended = serve(&cfg, link, &mut rx, &receipts).await;
                metrics::gauge!("otpd_smpp_bound", "provider" => cfg.provider.clone()).set(0.0);
                match ended {
                    Ended::Closed => return,
                    Ended::Lost(why) => why,
                }
            }
            Err(why) => why,
        };
        tracing::warn!(provider = %cfg.provider, reason = %reason, retry_in = ?backoff, "SMPP session down");
        // While down, sends fail at once (so the route fails over) instead of waiting.
        let until = Instant::now() + backoff;
        loop {
            tokio::select! {
                _ = sleep_until(until) => break,
                r = rx.recv() => match r {
                    Some(s) => {
                        let _ = s.reply.send(Err(ProviderError::Transient(format!("SMPP not connected: {reason}"))));
                    }
                    None => return,
                },
            }
        }
        backoff = (backoff * 2).min(cfg.reconnect_max);
    }
}

fn cstr<const MIN: usize, const MAX: usize>(
    s: &str,
    field: &str,
) -> Result<rusmpp::types::COctetString<MIN, MAX>, String> {
    s.parse()
        .map_err(|_| format!("{field}: not ASCII or longer than {} characters", MAX - 1))
}

async fn connect_and_bind(cfg: &SessionConfig) -> Result<Link, String> {
    let tcp = timeout(
        cfg.connect_timeout,
        TcpStream::connect((cfg.host.as_str(), cfg.port)),
    )
    .await
    .map_err(|_| "connect timed out".to_owned())?
    .map_err(|e| format!("connect: {e}"))?;
    let _ = tcp.set_nodelay(true);
    let mut link = Framed::new(tcp, CommandCodec::new());
    let bind = BindTransceiver::builder()
        .system_id(cstr(&cfg.system_id, "system_id")?)
        .password(cstr(&cfg.password, "password")?)
        .system_type(cstr(&cfg.system_type, "system_type")?)
        .interface_version(InterfaceVersion::Smpp3_4)
        .addr_ton(Ton::Unknown)
        .addr_npi(Npi::Unknown)
        .build();
    link.send(Command::new(CommandStatus::EsmeRok, 1, bind))
        .await
        .map_err(|e| format!("sending bind_transceiver: {e}"))?;
    let answer = timeout(cfg.connect_timeout, async {
        while let Some(frame) = link.next().await {
            let cmd = frame.map_err(|e| format!("reading bind_transceiver_resp: {e}"))?;
            if let Some(Pdu::BindTransceiverResp(_)) | Some(Pdu::GenericNack) = cmd.pdu() {
                return Ok(cmd.status());
            }
        }
        Err("the SMSC closed the connection during bind".to_owned())
    })
    .await
    .map_err(|_| "no bind_transceiver_resp in time".to_owned())??;
    match answer {
        CommandStatus::EsmeRok => Ok(link),
        CommandStatus::EsmeRinvpaswd => Err(
            "bind refused: ESME_RINVPASWD, the SMSC does not accept this system_id's password"
                .into(),
        ),
        CommandStatus::EsmeRinvsysid => {
            Err("bind refused: ESME_RINVSYSID, the SMSC does not know this system_id".into())
        }
        other => Err(format!(
            "bind refused: {other:?} (0x{:08X})",
            u32::from(other)
        )),
    }
}

/// Statuses worth another try later; every other refusal of a submit is for good.
fn transient(status: CommandStatus) -> bool {
    matches!(u32::from(status), 0x08 | 0x14 | 0x58 | 0x64 | 0x45)
}

async fn serve(
    cfg: &SessionConfig,
    mut link: Link,
    rx: &mut mpsc::Receiver<Submit>,
    receipts: &Receipts,
) -> Ended {
    let mut seq: u32 = 1;
    let mut in_flight: HashMap<u32, Submit> = HashMap::new();
    let mut pending: VecDeque<Submit> = VecDeque::new();
    let mut paused_until: Option<Instant> = None;
    let mut enquire = tokio::time::interval(cfg.enquire_link);
    enquire.tick().await;
    let mut unanswered_enquires = 0u32;

    let ended = 'session: loop {
        if paused_until.is_some_and(|t| Instant::now() >= t) {
            paused_until = None;
        }
        while paused_until.is_none() && in_flight.len() < cfg.window {
            let Some(s) = pending.pop_front() else { break };
            if s.reply.is_closed() {
                // Its sender gave up waiting: it has been retried elsewhere.
                continue;
            }
            seq = seq.wrapping_add(1).max(2);
            let cmd = Command::new(CommandStatus::EsmeRok, seq, s.pdu.clone());
            if let Err(e) = link.send(cmd).await {
                pending.push_front(s);
                break 'session Ended::Lost(format!("sending submit_sm: {e}"));
            }
            in_flight.insert(seq, s);
        }
        let pause = paused_until;
        tokio::select! {
            r = rx.recv() => match r {
                Some(s) => pending.push_back(s),
                None => break 'session Ended::Closed,
            },
            frame = link.next() => match frame {
                None => break 'session Ended::Lost("the SMSC closed the connection".into()),
                Some(Err(e)) => break 'session Ended::Lost(format!("reading from the SMSC: {e}")),
                Some(Ok(cmd)) => {
                    let status = cmd.status();
                    let n = cmd.sequence_number();
                    match cmd.pdu() {
                        Some(Pdu::SubmitSmResp(resp)) => {
                            let Some(s) = in_flight.remove(&n) else { continue };
                            if status == CommandStatus::EsmeRok {
                                let _ = s.reply.send(Ok(resp.message_id().to_string()));
                            } else if matches!(status, CommandStatus::EsmeRthrottled | CommandStatus::EsmeRmsgqful) {
                                metrics::counter!("otpd_smpp_throttled_total", "provider" => cfg.provider.clone()).increment(1);
                                paused_until = Some(Instant::now() + cfg.throttle_pause);
                                pending.push_front(s);
                            } else {
                                let msg = format!("submit_sm refused: {status:?} (0x{:08X})", u32::from(status));
                                let e = if transient(status) { ProviderError::Transient(msg) } else { ProviderError::Permanent(msg) };
                                let _ = s.reply.send(Err(e));
                            }
                        }
                        Some(Pdu::GenericNack) => {
                            if let Some(s) = in_flight.remove(&n) {
                                let _ = s.reply.send(Err(ProviderError::Permanent(format!("generic_nack {status:?}"))));
                            }
                        }
                        Some(Pdu::DeliverSm(d)) => {
                            let resp = Command::new(CommandStatus::EsmeRok, n, DeliverSmResp::default());
                            if let Err(e) = link.send(resp).await {
                                break 'session Ended::Lost(format!("sending deliver_sm_resp: {e}"));
                            }
                            handle_deliver(d, receipts);
                        }
                        Some(Pdu::EnquireLink) => {
                            if let Err(e) = link.send(Command::new(CommandStatus::EsmeRok, n, Pdu::EnquireLinkResp)).await {
                                break 'session Ended::Lost(format!("sending enquire_link_resp: {e}"));
                            }
                        }
                        Some(Pdu::EnquireLinkResp) => unanswered_enquires = 0,
                        Some(Pdu::Unbind) => {
                            let _ = link.send(Command::new(CommandStatus::EsmeRok, n, Pdu::UnbindResp)).await;
                            break 'session Ended::Lost("the SMSC unbound".into());
                        }
                        _ => {}
                    }
                }
            },
            _ = enquire.tick() => {
                if unanswered_enquires >= 2 {
                    break 'session Ended::Lost("no answer to enquire_link".into());
                }
                unanswered_enquires += 1;
                seq = seq.wrapping_add(1).max(2);
                if let Err(e) = link.send(Command::new(CommandStatus::EsmeRok, seq, Pdu::EnquireLink)).await {
                    break 'session Ended::Lost(format!("sending enquire_link: {e}"));
                }
            },
            _ = async { if let Some(t) = pause { sleep_until(t).await } }, if pause.is_some() => {}
        }
    };
    // Whatever was sent but not answered may or may not have gone out: the worker retries
    // (at least once). Unsent ones simply fail over.
    let why = match &ended {
        Ended::Closed => "the provider is shutting down".to_owned(),
        Ended::Lost(w) => w.clone(),
    };
    for (_, s) in in_flight.drain() {
        let _ = s.reply.send(Err(ProviderError::Transient(format!(
            "SMPP link lost before the answer: {why}"
        ))));
    }
    for s in pending.drain(..) {
        let _ = s.reply.send(Err(ProviderError::Transient(format!(
            "SMPP link lost: {why}"
        ))));
    }
    if matches!(ended, Ended::Closed) {
        // Graceful end: unbind and give the SMSC a moment to answer.
        seq = seq.wrapping_add(1).max(2);
        if link
            .send(Command::new(CommandStatus::EsmeRok, seq, Pdu::Unbind))
            .await
            .is_ok()
        {
            let _ = timeout(Duration::from_secs(2), async {
                while let Some(Ok(cmd)) = link.next().await {
                    if matches!(cmd.pdu(), Some(Pdu::UnbindResp)) {
                        break;
                    }
                }
            })
            .await;
        }
    }
    ended
}

/// A deliver_sm that is a receipt (esm_class bit 2) marks its delivery; others are ignored.
fn handle_deliver(d: &DeliverSm, receipts: &Receipts) {
    let text = String::from_utf8_lossy(d.short_message().as_ref()).into_owned();
    let parsed = super::encoding::parse_receipt(&text);
    let tlv_id = d.tlvs().iter().find_map(|t| match t.value() {
        Some(TlvValue::ReceiptedMessageId(id)) => Some(id.to_string()),
        _ => None,
    });
    let tlv_state = d.tlvs().iter().find_map(|t| match t.value() {
        Some(TlvValue::MessageState(s)) => Some(u8::from(*s)),
        _ => None,
    });
    let id = tlv_id.or_else(|| parsed.as_ref().map(|r| r.id.clone()));
    let stat = parsed.map(|r| r.stat).or_else(|| {
        tlv_state.map(|s| {
            match s {
                2 => "DELIVRD",
                3 => "EXPIRED",
                4 => "DELETED",
                5 => "UNDELIV",
                8 => "REJECTD",
                _ => "UNKNOWN",
            }
            .to_owned()
        })
    });
    if let (Some(id), Some(stat)) = (id, stat) {
        receipts.record(id, &stat);
    }
}
