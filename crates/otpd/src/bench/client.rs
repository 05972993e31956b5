//! Keep-alive HTTP/1 connections driven in a closed loop (as fast as answers come) or an open
//! loop (`--rate`: requests scheduled at fixed times; latency counts from the scheduled time,
//! so a stalled server is not hidden by the client waiting for it).

use super::BenchOptions;
use super::report::Report;
use super::scenario::{ConnState, Workload};
use base64::Engine as _;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::{Method, Request};
use hyper_util::rt::TokioIo;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::net::TcpStream;

pub struct Target {
    pub host: String,
    pub authorization: String,
}

impl Target {
    pub fn parse(url: &str, key: &str) -> Result<Target, String> {
        let host = url
            .strip_prefix("http://")
            .ok_or("--target must be an http:// URL")?
            .trim_end_matches('/')
            .to_owned();
        if !key.contains(':') {
            return Err("--key must be KEY_ID:SECRET".into());
        }
        Ok(Target {
            host,
            authorization: format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(key)
            ),
        })
    }
}

pub struct Conn {
    sender: hyper::client::conn::http1::SendRequest<Full<Bytes>>,
}

impl Conn {
    pub async fn open(target: &Target) -> Result<Conn, String> {
        let tcp = TcpStream::connect(&target.host)
            .await
            .map_err(|e| format!("connecting to {}: {e}", target.host))?;
        let _ = tcp.set_nodelay(true);
        let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tcp))
            .await
            .map_err(|e| format!("HTTP handshake: {e}"))?;
        tokio::spawn(conn);
        Ok(Conn { sender })
    }

    /// Sends one request; returns the status and body.
    pub async fn call(
        &mut self,
        target: &Target,
        method: Method,
        path: &str,
        body: Option<String>,
    ) -> Result<(u16, Bytes), String> {
        let mut req = Request::builder()
            .method(method)
            .uri(path)
            .header("host", &target.host)
            .header("authorization", &target.authorization);
        if body.is_some() {
            req = req.header("content-type", "application/json");
        }
        let req = req
            .body(Full::new(Bytes::from(body.unwrap_or_default())))
            .map_err(|e| e.to_string())?;
        self.sender.ready().await.map_err(|e| e.to_string())?;
        let resp = self
            .sender
            .send_request(req)
            .await
            .map_err(|e| e.to_string())?;
        let status = resp.status().as_u16();
        let bytes = resp
            .into_body()
            .collect()
            .await
            .map_err(|e| e.to_string())?
            .to_bytes();
        Ok((status, bytes))
    }
}

/// Runs `workload` on `opts.connections` connections for `opts.duration`. Also returns, per
/// connection, the body of the last 201 answer (what it created last).
pub async fn drive(
    target: &Target,
    workload: &Workload,
    opts: &BenchOptions,
    name: &str,
) -> Result<(Report, Vec<Bytes>), String> {
    let target = Arc::new(Target {
        host: target.host.clone(),
        authorization: target.authorization.clone(),
    });
    let workload = Arc::new(workload.clone());
    let started = Instant::now();
    let deadline = started + opts.duration;
    let per_conn_interval = opts
        .rate
        .map(|r| Duration::from_secs_f64(opts.connections as f64 / r.max(0.001)));
    let mut tasks = Vec::with_capacity(opts.connections);
    for c in 0..opts.connections {
        let (target, workload) = (target.clone(), workload.clone());
        let opts_prefill = opts.prefill;
        tasks.push(tokio::spawn(async move {
            let mut conn = Conn::open(&target).await?;
            let mut latencies_us: Vec<u32> = Vec::with_capacity(16_384);
            let mut errors = 0u64;
            let mut state = ConnState::default();
            let mut last_created = None;
            // Stagger open-loop connections across one interval.
            let mut next =
                per_conn_interval.map(|i| started + i.mul_f64(c as f64 / 64.0_f64.max(1.0)).min(i));
            loop {
                let scheduled = match (next, per_conn_interval) {
                    (Some(at), Some(interval)) => {
                        tokio::time::sleep_until(at.into()).await;
                        next = Some(at + interval);
                        at
                    }
                    _ => Instant::now(),
                };
                if scheduled >= deadline {
                    break;
                }
                let Some((method, path, body, expect)) = workload.next_request(&mut state) else {
                    return Err(format!(
                        "every prefilled verification was checked before the run ended; \
                         raise --prefill above {} (the measured rate times the duration)",
                        opts_prefill
                    ));
                };
                match conn.call(&target, method, &path, body).await {
                    Ok((status, bytes)) if status == expect => {
                        latencies_us
                            .push(scheduled.elapsed().as_micros().min(u32::MAX as u128) as u32);
                        if status == 201 {
                            last_created = Some(bytes);
                        }
                    }
                    Ok(_) => errors += 1,
                    Err(_) => {
                        errors += 1;
                        conn = Conn::open(&target).await?;
                    }
                }
            }
            Ok::<_, String>((latencies_us, errors, last_created))
        }));
    }
    let mut all = Vec::new();
    let mut errors = 0;
    let mut created = Vec::new();
    for t in tasks {
        let (l, e, c) = t.await.map_err(|e| e.to_string())??;
        all.extend(l);
        errors += e;
        created.extend(c);
    }
    let elapsed = started.elapsed().max(opts.duration);
    Ok((
        Report::new(name, opts.connections, elapsed, all, errors),
        created,
    ))
}
