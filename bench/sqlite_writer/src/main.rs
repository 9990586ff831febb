//! The store's 1000-event group insert, bound by Rust instead of Python's `sqlite3`.
//!
//! `bench_layout` writes the parameters of INSERT_EVENT (one row per line, tab-separated, the
//! two hashes in hex) and a store file made by the store's own migrations; this program reads
//! them all, then inserts them a batch per transaction (BEGIN IMMEDIATE, one prepared
//! statement, COMMIT) with the connection settings the store asserts (WAL, synchronous=FULL),
//! and prints `events <n> wall_s <s> cpu_s <s>` for the insert loop alone.
//!
//!     sluice-bench-sqlite-writer <store.db> <rows.tsv> <batch> <insert sql>

use std::time::Instant;
use std::{env, fs, process};

use rusqlite::{Connection, params};

struct Row {
    offset: i64,
    fields: [String; 5], // tenant, id, source, name, customer
    timestamp: i64,
    value: Option<f64>,
    payload: String,
    received_at: i64,
    key: Vec<u8>,
    content: Vec<u8>,
}

fn hex(text: &str) -> Vec<u8> {
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).expect("hex"))
        .collect()
}

fn parse(line: &str) -> Row {
    let f: Vec<&str> = line.split('\t').collect();
    assert_eq!(f.len(), 12, "12 columns a row");
    let int = |s: &str| s.parse::<i64>().expect("integer");
    Row {
        offset: int(f[0]),
        fields: [f[1], f[2], f[3], f[4], f[5]].map(str::to_owned),
        timestamp: int(f[6]),
        value: (!f[7].is_empty()).then(|| f[7].parse().expect("float")),
        payload: f[8].to_owned(),
        received_at: int(f[9]),
        key: hex(f[10]),
        content: hex(f[11]),
    }
}

/// User + system CPU seconds of this process (/proc/self/stat, in clock ticks of 1/100 s).
fn cpu_seconds() -> f64 {
    let stat = fs::read_to_string("/proc/self/stat").expect("/proc/self/stat");
    let after_name = &stat[stat.rfind(')').expect("stat") + 2..];
    let fields: Vec<&str> = after_name.split(' ').collect();
    let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    ticks as f64 / 100.0
}

fn main() -> rusqlite::Result<()> {
    let args: Vec<String> = env::args().collect();
    if args.len() != 5 {
        eprintln!(
            "usage: {} <store.db> <rows.tsv> <batch> <insert sql>",
            args[0]
        );
        process::exit(2);
    }
    let rows: Vec<Row> = fs::read_to_string(&args[2])
        .expect("rows file")
        .lines()
        .map(parse)
        .collect();
    let batch: usize = args[3].parse().expect("batch size");
    let conn = Connection::open(&args[1])?;
    let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
    conn.execute_batch("PRAGMA synchronous = FULL; PRAGMA busy_timeout = 2000;")?;
    let level: i64 = conn.query_row("PRAGMA synchronous", [], |r| r.get(0))?;
    assert!(
        mode == "wal" && level == 2,
        "durable settings refused: {mode}, {level}"
    );

    let (wall, cpu) = (Instant::now(), cpu_seconds());
    for chunk in rows.chunks(batch) {
        conn.execute_batch("BEGIN IMMEDIATE")?;
        let mut insert = conn.prepare_cached(&args[4])?;
        for r in chunk {
            insert.execute(params![
                r.offset,
                r.fields[0],
                r.fields[1],
                r.fields[2],
                r.fields[3],
                r.fields[4],
                r.timestamp,
                r.value,
                r.payload,
                r.received_at,
                r.key,
                r.content,
            ])?;
        }
        drop(insert);
        conn.execute_batch("COMMIT")?;
    }
    println!(
        "events {} wall_s {:.6} cpu_s {:.3}",
        rows.len(),
        wall.elapsed().as_secs_f64(),
        cpu_seconds() - cpu
    );
    Ok(())
}
