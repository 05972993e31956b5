//! Throughput and latency percentiles of one run.

use serde_json::json;
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct Report {
    pub name: String,
    pub connections: usize,
    pub duration_s: f64,
    pub requests: u64,
    pub errors: u64,
    pub throughput_rps: f64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    /// Seconds after the run until the worker had delivered what the run created (`send`
    /// and `mixed`): throughput that outran delivery shows here.
    pub delivery_lag_s: Option<f64>,
}

impl Report {
    pub fn new(
        name: &str,
        connections: usize,
        elapsed: Duration,
        mut lat_us: Vec<u32>,
        errors: u64,
    ) -> Report {
        lat_us.sort_unstable();
        let pct = |p: f64| -> f64 {
            if lat_us.is_empty() {
                return 0.0;
            }
            let i = ((lat_us.len() as f64 * p).ceil() as usize).clamp(1, lat_us.len()) - 1;
            lat_us[i] as f64 / 1000.0
        };
        let secs = elapsed.as_secs_f64();
        Report {
            name: name.to_owned(),
            connections,
            duration_s: secs,
            requests: lat_us.len() as u64,
            errors,
            throughput_rps: lat_us.len() as f64 / secs,
            p50_ms: pct(0.50),
            p90_ms: pct(0.90),
            p99_ms: pct(0.99),
            max_ms: lat_us.last().map(|&m| m as f64 / 1000.0).unwrap_or(0.0),
            delivery_lag_s: None,
        }
    }

    pub fn line(&self) -> String {
        let lag = self
            .delivery_lag_s
            .map(|s| format!("  delivered {s:.2} s after the run"))
            .unwrap_or_default();
        format!(
            "{:<8} {:>5} conn {:>6.1} s {:>9} req {:>6} err {:>10.0} req/s  p50 {:>7.2} ms  p90 {:>7.2} ms  p99 {:>7.2} ms  max {:>8.2} ms{}",
            self.name,
            self.connections,
            self.duration_s,
            self.requests,
            self.errors,
            self.throughput_rps,
            self.p50_ms,
            self.p90_ms,
            self.p99_ms,
            self.max_ms,
            lag
        )
    }

    /// The one-line JSON summary the issue specifies.
    pub fn json(&self, ceiling: &Report) -> serde_json::Value {
        let ratio = if ceiling.throughput_rps > 0.0 {
            self.throughput_rps / ceiling.throughput_rps
        } else {
            0.0
        };
        let r2 = |x: f64| (x * 100.0).round() / 100.0;
        json!({
            "scenario": self.name,
            "connections": self.connections,
            "duration_s": r2(self.duration_s),
            "requests": self.requests,
            "errors": self.errors,
            "throughput_rps": r2(self.throughput_rps),
            "p50_ms": r2(self.p50_ms),
            "p90_ms": r2(self.p90_ms),
            "p99_ms": r2(self.p99_ms),
            "max_ms": r2(self.max_ms),
            "ceiling_rps": r2(ceiling.throughput_rps),
            "ratio": (ratio * 1000.0).round() / 1000.0,
            "delivery_lag_s": self.delivery_lag_s.map(r2),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_and_ratio() {
        let lat: Vec<u32> = (1..=1000).map(|i| i * 1000).collect();
        let r = Report::new("send", 4, Duration::from_secs(10), lat, 3);
        assert_eq!(r.requests, 1000);
        assert_eq!(r.throughput_rps, 100.0);
        assert_eq!(
            (r.p50_ms, r.p90_ms, r.p99_ms, r.max_ms),
            (500.0, 900.0, 990.0, 1000.0)
        );
        let ceiling = Report::new("healthz", 4, Duration::from_secs(10), vec![1; 4000], 0);
        let j = r.json(&ceiling);
        assert_eq!(j["ratio"], 0.25);
        assert_eq!(j["errors"], 3);
        for k in [
            "scenario",
            "connections",
            "duration_s",
            "requests",
            "errors",
            "throughput_rps",
            "p50_ms",
            "p90_ms",
            "p99_ms",
            "max_ms",
            "ceiling_rps",
            "ratio",
        ] {
            assert!(j.get(k).is_some(), "{k}");
        }
    }
}
