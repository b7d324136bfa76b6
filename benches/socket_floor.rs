//! The kernel's floor under `benches/audit_load`'s delivery latency: what it costs this machine to
//! hand one small frame to N loopback TCP sockets and read it back in another process, with
//! nothing else in the way — no WebSocket, no JSON, no async runtime on the sending side, no
//! server. One process writes each entry to every socket with blocking `write`s from
//! `SOCKET_FLOOR_THREADS` plain threads; a second process (this binary with `--reader`) holds the
//! other ends in one epoll loop (mio) and records, per frame, its receive time minus the send
//! time written in it (both `CLOCK_REALTIME` on this machine, as in `audit_load`).
//!
//! `benches/audit_floor.rs` is the floor of a server written like lift (axum, tokio, one task per
//! socket); this is the floor under both, so that a delivery-latency goal can be checked against
//! what the machine allows at all: a server that makes one system call per socket and entry, and
//! a client that reads its sockets, cost at least this much.
//!
//! ```sh
//! cargo bench --bench socket_floor --no-run        # prints the executable
//! target/release/deps/socket_floor-<hash>          # 10,000 sockets, 40 entries at 2/s
//! SOCKET_FLOOR_THREADS=2 target/release/deps/socket_floor-<hash>
//! ```
//!
//! Settings (environment): `SOCKET_FLOOR_SOCKETS` (10000), `SOCKET_FLOOR_ENTRIES` (40),
//! `SOCKET_FLOOR_RATE` (entries per second, 2), `SOCKET_FLOOR_FRAME` (bytes per frame, 180: an
//! `audit_load` `next` frame with its WebSocket header), `SOCKET_FLOOR_THREADS` (sending threads, 1).
//! Each process holds N descriptors, so N up to the open-file limit minus a few works.

#[allow(dead_code)] // only `env_or`, `quantile` and `cpu_seconds` are used here
mod common;

use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use mio::net::TcpStream as MioStream;
use mio::{Events, Interest, Poll, Token};

/// Frames carry (entry number, send time in ns since the epoch), then padding.
const HEADER: usize = 16;

fn now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_nanos() as u64
}

/// This process's CPU seconds.
fn cpu_seconds() -> f64 {
    common::cpu_seconds("self").unwrap_or(f64::NAN)
}

/// The settings of a run, read from the environment by both processes (the reader inherits it).
struct Settings {
    sockets: usize,
    entries: usize,
    /// Entries per second.
    rate: usize,
    frame_len: usize,
    threads: usize,
}

impl Settings {
    fn from_env() -> Self {
        Settings {
            sockets: common::env_or("SOCKET_FLOOR_SOCKETS", 10_000),
            entries: common::env_or("SOCKET_FLOOR_ENTRIES", 40),
            rate: common::env_or("SOCKET_FLOOR_RATE", 2).max(1),
            frame_len: common::env_or("SOCKET_FLOOR_FRAME", 180).max(HEADER),
            threads: common::env_or("SOCKET_FLOOR_THREADS", 1).max(1),
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let settings = Settings::from_env();
    if let Some(at) = args.iter().position(|a| a == "--reader") {
        let address = args.get(at + 1).expect("--reader ADDRESS");
        return reader(&settings, address);
    }
    sender(&settings);
}

fn sender(settings: &Settings) {
    let &Settings {
        sockets,
        entries,
        rate,
        frame_len,
        threads,
    } = settings;
    println!(
        "socket floor: {sockets} loopback sockets, {entries} entries at {rate}/s, {frame_len}-byte frames, {threads} sending thread(s)"
    );

    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let address = listener.local_addr().expect("address").to_string();
    let exe = std::env::current_exe().expect("this executable");
    let mut child = Command::new(exe)
        .args(["--reader", &address])
        .stdout(Stdio::piped())
        .spawn()
        .expect("start the reader");
    let mut streams = Vec::with_capacity(sockets);
    while streams.len() < sockets {
        let (stream, _) = listener.accept().expect("accept");
        stream.set_nodelay(true).expect("nodelay");
        streams.push(stream);
    }
    let mut from_reader = BufReader::new(child.stdout.take().expect("reader's stdout"));
    let mut line = String::new();
    from_reader.read_line(&mut line).expect("reader ready");
    assert_eq!(line.trim(), "ready", "reader: {line}");

    let cpu_before = cpu_seconds();
    let start = Instant::now();
    let mut frame = vec![b'x'; frame_len];
    let chunk = sockets.div_ceil(threads);
    for entry in 0..entries {
        let due = Duration::from_secs_f64(entry as f64 / rate as f64);
        if let Some(wait) = due.checked_sub(start.elapsed()) {
            std::thread::sleep(wait);
        }
        frame[..8].copy_from_slice(&(entry as u64).to_le_bytes());
        frame[8..16].copy_from_slice(&now_ns().to_le_bytes());
        let frame = &frame;
        std::thread::scope(|scope| {
            for part in streams.chunks_mut(chunk) {
                scope.spawn(move || {
                    for stream in part {
                        stream.write_all(frame).expect("write");
                    }
                });
            }
        });
    }
    let sender_cpu = cpu_seconds() - cpu_before;
    for line in from_reader.lines() {
        println!("{}", line.expect("reader's report"));
    }
    let status = child.wait().expect("reader");
    println!(
        "sender CPU            {sender_cpu:.2} s ({:.2} µs per frame)",
        sender_cpu * 1e6 / (sockets * entries) as f64
    );
    if !status.success() {
        std::process::exit(1);
    }
}

/// Quantile `q` of sorted nanoseconds, in milliseconds.
fn quantile(sorted: &[u64], q: f64) -> f64 {
    common::quantile(sorted, q).map_or(f64::NAN, |ns| ns as f64 / 1e6)
}

fn reader(settings: &Settings, address: &str) {
    let &Settings {
        sockets,
        entries,
        frame_len,
        ..
    } = settings;
    let mut poll = Poll::new().expect("epoll");
    let mut streams = Vec::with_capacity(sockets);
    for index in 0..sockets {
        let stream = TcpStream::connect(address).expect("connect");
        stream.set_nonblocking(true).expect("nonblocking");
        let mut stream = MioStream::from_std(stream);
        poll.registry()
            .register(&mut stream, Token(index), Interest::READABLE)
            .expect("register");
        streams.push(stream);
    }
    println!("ready");
    std::io::stdout().flush().expect("stdout");

    let cpu_before = cpu_seconds();
    let expected = sockets * entries;
    // Per socket: the bytes of a frame read so far.
    let mut partial = vec![vec![0u8; frame_len]; sockets];
    let mut filled = vec![0usize; sockets];
    let mut latencies = Vec::with_capacity(expected);
    // Per entry: latency of its first and last delivery.
    let mut spread = vec![(u64::MAX, 0u64); entries];
    let mut events = Events::with_capacity(1024);
    while latencies.len() < expected {
        poll.poll(&mut events, Some(Duration::from_secs(30)))
            .expect("poll");
        if events.is_empty() {
            eprintln!(
                "reader: nothing for 30 s, {} of {expected} frames",
                latencies.len()
            );
            std::process::exit(1);
        }
        for event in events.iter() {
            let index = event.token().0;
            // Edge-triggered: read until the socket is empty.
            loop {
                let buffer = &mut partial[index][filled[index]..];
                match streams[index].read(buffer) {
                    Ok(0) => break,
                    Ok(read) => {
                        filled[index] += read;
                        if filled[index] < frame_len {
                            continue;
                        }
                        filled[index] = 0;
                        let received = now_ns();
                        let frame = &partial[index];
                        let entry = u64::from_le_bytes(frame[..8].try_into().expect("8 bytes"));
                        let sent = u64::from_le_bytes(frame[8..16].try_into().expect("8 bytes"));
                        let latency = received.saturating_sub(sent);
                        latencies.push(latency);
                        if let Some(range) = spread.get_mut(entry as usize) {
                            range.0 = range.0.min(latency);
                            range.1 = range.1.max(latency);
                        }
                    }
                    Err(err) if err.kind() == ErrorKind::WouldBlock => break,
                    Err(err) => panic!("read: {err}"),
                }
            }
        }
    }
    let reader_cpu = cpu_seconds() - cpu_before;
    latencies.sort_unstable();
    let mut first: Vec<u64> = spread.iter().map(|r| r.0).collect();
    let mut last: Vec<u64> = spread.iter().map(|r| r.1).collect();
    first.sort_unstable();
    last.sort_unstable();
    println!(
        "delivery latency      p50 {:.2} ms  p99 {:.2} ms  max {:.2} ms  ({} frames)",
        quantile(&latencies, 0.5),
        quantile(&latencies, 0.99),
        quantile(&latencies, 1.0),
        latencies.len()
    );
    println!(
        "per entry             first delivery p50 {:.2} ms; last delivery p50 {:.2} ms p99 {:.2} ms",
        quantile(&first, 0.5),
        quantile(&last, 0.5),
        quantile(&last, 0.99)
    );
    println!(
        "reader CPU            {reader_cpu:.2} s ({:.2} µs per frame)",
        reader_cpu * 1e6 / expected as f64
    );
}
