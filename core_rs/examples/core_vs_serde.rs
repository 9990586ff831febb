//! The core's parsers against `serde_json` parsing the same bytes into `serde_json::Value`.
//!
//! Run by `bench/bench_core.py`, which writes the corpora (one request body per line):
//! `cargo run --release --example core_vs_serde -- DIR SECONDS [CONTENDER]`. Prints one JSON
//! object per corpus with events/s on one thread for each contender (or only CONTENDER, e.g.
//! under `perf record`); the best of five rounds counts. SECONDS is per contender and corpus.
//! Rates are per second of this thread's CPU time (Linux), so other processes on the machine
//! do not count against them; elsewhere wall time is used.

use std::hint::black_box;
use std::path::Path;
use std::time::Instant;

use _core::json;
use _core::limits::Limits;
use _core::{enso, vayu};

/// Same as the Python side (bench/corpus.py): every event is before this instant.
const NOW_US: i64 = 1_714_600_000_000_000;
const ROUNDS: u32 = 5;
const CORPORA: [&str; 3] = ["vayu", "vayu_dup10", "enso"];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let dir = args
        .next()
        .ok_or("usage: core_vs_serde DIR SECONDS [CONTENDER]")?;
    let seconds: f64 = args.next().map_or(Ok(2.0), |s| s.parse())?;
    let only = args.next();
    let runs = |name: &str| only.as_deref().is_none_or(|only| only == name);
    let per_round = seconds / f64::from(ROUNDS);
    let limits = Limits::default();

    for corpus in CORPORA {
        let text = std::fs::read(Path::new(&dir).join(format!("{corpus}.jsonl")))?;
        let bodies: Vec<&[u8]> = text
            .split(|&b| b == b'\n')
            .filter(|b| !b.is_empty())
            .collect();
        let events = count_events(&bodies)?;

        let serde_value = runs("serde_value").then(|| {
            best_rate(&bodies, events, per_round, |body| {
                serde_json::from_slice::<serde_json::Value>(body).is_ok()
            })
        });
        let core_json = runs("core_json").then(|| {
            best_rate(&bodies, events, per_round, |body| {
                json::parse(body, limits.max_depth).is_ok()
            })
        });
        let core_batch = runs("core_batch_rust").then(|| {
            best_rate(&bodies, events, per_round, |body| {
                let batch = if corpus == "enso" {
                    enso::parse_enso_batch(body, "bench", NOW_US, &limits)
                } else {
                    vayu::parse_vayu_batch(body, "bench", NOW_US, &limits)
                };
                batch.is_ok()
            })
        });
        let [serde_value, core_json, core_batch] =
            [serde_value, core_json, core_batch].map(|rate| rate.unwrap_or(0.0));
        println!(
            "{{\"corpus\":\"{corpus}\",\"events\":{events},\"serde_value_eps\":{serde_value:.0},\
             \"core_json_eps\":{core_json:.0},\"core_batch_rust_eps\":{core_batch:.0}}}"
        );
    }
    Ok(())
}

/// The number of events in the corpus, by serde_json (so a corpus it cannot read fails here).
fn count_events(bodies: &[&[u8]]) -> Result<usize, serde_json::Error> {
    let mut events = 0;
    for body in bodies {
        let value: serde_json::Value = serde_json::from_slice(body)?;
        events += value["events"].as_array().map_or(0, Vec::len);
    }
    Ok(events)
}

/// Events per CPU second of `work` over the whole corpus: the best of ROUNDS rounds, each
/// going over the corpus as many times as fit in `per_round` seconds (at least once).
fn best_rate(bodies: &[&[u8]], events: usize, per_round: f64, work: impl Fn(&[u8]) -> bool) -> f64 {
    let clock = Clock::new();
    let mut best = 0.0_f64;
    for _ in 0..ROUNDS {
        let started = clock.seconds();
        let mut passes = 0_u32;
        while passes == 0 || clock.seconds() - started < per_round {
            for body in bodies {
                assert!(work(black_box(body)), "the corpus must parse");
            }
            passes += 1;
        }
        let rate = (events as f64) * f64::from(passes) / (clock.seconds() - started);
        best = best.max(rate);
    }
    best
}

/// This thread's CPU time from /proc/thread-self/schedstat (nanoseconds on the CPU), or wall
/// time where that file does not exist.
struct Clock {
    wall: Instant,
    schedstat: bool,
}

impl Clock {
    fn new() -> Self {
        Self {
            wall: Instant::now(),
            schedstat: Self::cpu_seconds().is_some(),
        }
    }

    fn seconds(&self) -> f64 {
        match self.schedstat {
            true => Self::cpu_seconds().unwrap_or(0.0),
            false => self.wall.elapsed().as_secs_f64(),
        }
    }

    fn cpu_seconds() -> Option<f64> {
        let text = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
        let nanos: f64 = text.split_whitespace().next()?.parse().ok()?;
        Some(nanos / 1e9)
    }
}
