//! The smtp provider against the aiosmtpd sink: STARTTLS with a private CA and AUTH, plain on
//! loopback, a refused recipient. The code is read from the received message and verified.
//! (A wrong password is not tested here: this sink never answers a failed AUTH.)

use crate::support::*;
use otpd_core::destination::Channel;
use otpd_core::ports::Store;
use otpd_delivery::smtp::{SmtpProvider, SmtpSettings};
use otpd_delivery::{Provider, Routes};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The venv's python with aiosmtpd (`SMTP_SINK_PYTHON` overrides).
fn python() -> Option<PathBuf> {
    let p = std::env::var_os("SMTP_SINK_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../.venv/bin/python")
        });
    let ok = Command::new(&p)
        .args(["-c", "import aiosmtpd"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    ok.then_some(p)
}

struct Sink {
    _peer: Peer,
    port: u16,
    out: tempfile::TempDir,
    certs: tempfile::TempDir,
}

async fn sink(extra: &[&str], tls: bool) -> Option<Sink> {
    let py = python();
    require(
        py.is_some(),
        "aiosmtpd in .venv (pip install -r interop/requirements.txt)",
    )?;
    let certs = tempfile::tempdir().unwrap();
    let mut args: Vec<String> = extra.iter().map(|s| s.to_string()).collect();
    if tls {
        // mkcerts.sh writes beside itself: run a copy in a temp dir.
        let script = certs.path().join("mkcerts.sh");
        std::fs::copy(peers_dir().join("smtp/mkcerts.sh"), &script).unwrap();
        let st = Command::new("bash")
            .arg(&script)
            .stdout(Stdio::null())
            .status()
            .unwrap();
        assert!(st.success(), "mkcerts.sh failed");
        args.push("--tls".into());
        args.push(certs.path().join("cert.pem").display().to_string());
        args.push(certs.path().join("key.pem").display().to_string());
    }
    let out = tempfile::tempdir().unwrap();
    let port = free_port();
    let child = grouped(py.unwrap())
        .arg(peers_dir().join("smtp/smtp_sink.py"))
        .args(["--port", &port.to_string(), "--out"])
        .arg(out.path())
        .args(&args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let peer = Peer { child, port };
    wait_port(port, Duration::from_secs(30)).await;
    Some(Sink {
        _peer: peer,
        port,
        out,
        certs,
    })
}

impl Sink {
    fn provider(&self, extra: Value) -> Arc<dyn Provider> {
        let mut s = json!({"host": "127.0.0.1", "port": self.port, "tls": "none", "from": "Acme <otp@example.com>"});
        for (k, v) in extra.as_object().unwrap() {
            s[k] = v.clone();
        }
        if s["ca_file"] == "CA" {
            s["ca_file"] = json!(self.certs.path().join("ca.pem"));
        }
        let settings: SmtpSettings = serde_json::from_value(s).unwrap();
        Arc::new(SmtpProvider::new("mail", &settings).unwrap())
    }

    /// The received messages: (raw .eml, its .json envelope).
    async fn received(&self, want: usize) -> Vec<(String, Value)> {
        let until = Instant::now() + Duration::from_secs(10);
        loop {
            let got = read_dir(self.out.path());
            if got.len() >= want || Instant::now() > until {
                return got;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

fn read_dir(dir: &Path) -> Vec<(String, Value)> {
    let mut stems: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    stems.sort();
    stems
        .into_iter()
        .map(|j| {
            let meta: Value = serde_json::from_slice(&std::fs::read(&j).unwrap()).unwrap();
            let eml = std::fs::read_to_string(j.with_extension("eml")).unwrap();
            (eml, meta)
        })
        .collect()
}

/// The six digits after "code is:" in the message's text part (quoted-printable safe).
fn code_in(eml: &str) -> String {
    let flat = eml.replace("=\r\n", "").replace("=\n", "");
    let at = flat.find("code is: ").expect("no code line") + "code is: ".len();
    flat[at..]
        .chars()
        .take_while(|c| c.is_ascii_digit())
        .collect()
}

#[tokio::test]
async fn starttls_with_auth_delivers_text_and_html_and_the_code_verifies() {
    let Some(sink) = sink(&["--auth", "otpd:s3cret"], true).await else {
        return;
    };
    let p = sink.provider(
        json!({"tls": "starttls", "ca_file": "CA", "username": "otpd", "password": "s3cret"}),
    );
    let f = fixture().await;
    let w = f.worker(Routes::all_through(p));
    let v = f.start("alice@example.org", Channel::Email, "731904").await;
    assert_eq!(w.run_once().await.unwrap(), 1);
    let got = sink.received(1).await;
    assert_eq!(got.len(), 1);
    let (eml, meta) = &got[0];
    assert_eq!(meta["tls"], true);
    assert_eq!(meta["auth_user"], "otpd");
    assert_eq!(meta["rcpt_tos"], json!(["alice@example.org"]));
    assert_eq!(meta["mail_from"], "otp@example.com");
    assert!(eml.contains("multipart/alternative"), "{eml}");
    assert!(
        eml.contains("text/plain") && eml.contains("text/html"),
        "{eml}"
    );
    assert!(
        eml.contains("Subject: Your Acme verification code"),
        "{eml}"
    );
    let code = code_in(eml);
    assert_eq!(code, "731904");
    assert!(
        f.check(&v, &code).await,
        "the code read from the mail verifies"
    );
    let d = f.store.latest_delivery(&v.id).await.unwrap().unwrap();
    assert_eq!(d.status.as_str(), "sent");
}

#[tokio::test]
async fn plain_smtp_on_loopback_delivers() {
    let Some(sink) = sink(&[], false).await else {
        return;
    };
    let f = fixture().await;
    let w = f.worker(Routes::all_through(sink.provider(json!({}))));
    let v = f.start("bob@example.org", Channel::Email, "552211").await;
    w.run_once().await.unwrap();
    let got = sink.received(1).await;
    assert_eq!(got[0].1["tls"], false);
    assert!(f.check(&v, &code_in(&got[0].0)).await);
}

#[tokio::test]
async fn a_refused_recipient_fails_for_good() {
    let Some(sink) = sink(&["--fail-rcpt", "gone@example.org"], false).await else {
        return;
    };
    let f = fixture().await;
    let w = f.worker(Routes::all_through(sink.provider(json!({}))));
    let v = f.start("gone@example.org", Channel::Email, "552211").await;
    w.run_once().await.unwrap();
    f.clock.advance_secs(60);
    assert_eq!(w.run_once().await.unwrap(), 0, "not retried");
    let d = f.store.latest_delivery(&v.id).await.unwrap().unwrap();
    assert_eq!(d.status.as_str(), "failed");
    assert!(sink.received(0).await.is_empty());
}
