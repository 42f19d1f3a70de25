//! HEAD load from one thread: every connection on one `epoll` loop (mio).
//!
//! The upload workloads run one blocking thread per connection, which is simple and costs little next to file
//! work. A HEAD is cheap for a good server, though, and 64 blocking client threads on the same CPUs cost about as
//! much again in wake-ups and context switches, capping what any server can show. One thread driving all
//! connections spends a few microseconds per request, and leaves the CPUs to the server being measured.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, ToSocketAddrs};
use std::time::{Duration, Instant};

use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Token};

use crate::http::Endpoint;
use crate::workload::{Outcome, MAX_ERRORS};

/// The largest response head accepted.
const MAX_HEAD: usize = 64 * 1024;

/// One connection and the request it has in flight.
struct Conn {
    stream: TcpStream,
    /// Bytes of the request still to send (from `sent` on).
    sent: usize,
    /// Response bytes read so far.
    response: Vec<u8>,
    /// When the request in flight was sent (its first byte).
    started: Instant,
}

/// HEAD `target` over `concurrency` keep-alive connections for `duration`; 200 and 204 count as success. A
/// connection that fails is replaced (counted in `connects`); the workload stops after [`MAX_ERRORS`] failures.
pub fn heads(endpoint: &Endpoint, target: &str, concurrency: usize, duration: Duration) -> Outcome {
    let mut outcome = Outcome::default();
    let begun = Instant::now();
    if let Err(error) = run(endpoint, target, concurrency, begun + duration, &mut outcome) {
        outcome.errors += 1;
        outcome.first_error.get_or_insert(format!("HEAD load: {error}"));
        outcome.cut_short = true;
    }
    outcome.elapsed = begun.elapsed();
    outcome
}

fn run(endpoint: &Endpoint, target: &str, concurrency: usize, end: Instant, out: &mut Outcome) -> io::Result<()> {
    let addr = endpoint
        .authority
        .to_socket_addrs()?
        .next()
        .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "the server's address resolves to nothing"))?;
    let request =
        format!("HEAD {target} HTTP/1.1\r\nHost: {}\r\nTus-Resumable: 1.0.0\r\n\r\n", endpoint.authority).into_bytes();
    let mut poll = Poll::new()?;
    let mut conns = Vec::with_capacity(concurrency);
    for i in 0..concurrency {
        conns.push(connect(&poll, addr, Token(i), out)?);
    }
    let mut events = Events::with_capacity(concurrency.max(16));
    while let Some(left) = end.checked_duration_since(Instant::now()) {
        if out.errors >= MAX_ERRORS {
            out.cut_short = true;
            break;
        }
        poll.poll(&mut events, Some(left))?;
        for event in &events {
            let Token(i) = event.token();
            if let Err(error) = step(&mut conns[i], &request, out) {
                out.errors += 1;
                out.first_error.get_or_insert(format!("HEAD: {error}"));
                poll.registry().deregister(&mut conns[i].stream)?;
                conns[i] = connect(&poll, addr, Token(i), out)?;
            }
        }
    }
    Ok(())
}

/// Opens a connection whose first request goes out once it is writable.
fn connect(poll: &Poll, addr: SocketAddr, token: Token, out: &mut Outcome) -> io::Result<Conn> {
    let mut stream = TcpStream::connect(addr)?;
    stream.set_nodelay(true)?;
    poll.registry().register(&mut stream, token, Interest::READABLE | Interest::WRITABLE)?;
    out.connects += 1;
    Ok(Conn { stream, sent: 0, response: Vec::with_capacity(1024), started: Instant::now() })
}

/// Moves one connection on after a readiness event (edge-triggered: reads and writes until they would block).
fn step(conn: &mut Conn, request: &[u8], out: &mut Outcome) -> io::Result<()> {
    loop {
        if conn.sent < request.len() {
            if conn.sent == 0 {
                conn.started = Instant::now();
            }
            match conn.stream.write(&request[conn.sent..]) {
                Ok(n) => conn.sent += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::NotConnected => return Ok(()), // connect still in progress
                Err(e) => return Err(e),
            }
            continue;
        }
        let mut buf = [0u8; 4096];
        match conn.stream.read(&mut buf) {
            Ok(0) => return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "connection closed by the server")),
            Ok(n) => conn.response.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
            Err(e) => return Err(e),
        }
        let Some(end) = conn.response.windows(4).position(|w| w == b"\r\n\r\n").map(|i| i + 4) else {
            if conn.response.len() > MAX_HEAD {
                return Err(io::Error::new(io::ErrorKind::InvalidData, "response head over 64 KiB"));
            }
            continue;
        };
        // A HEAD response has no body, and nothing else was asked for: anything after the head is an error.
        if end != conn.response.len() {
            return Err(io::Error::new(io::ErrorKind::InvalidData, "bytes after the response head"));
        }
        let status = status(&conn.response)?;
        if status != 200 && status != 204 {
            return Err(io::Error::new(io::ErrorKind::InvalidData, format!("HEAD answered {status}")));
        }
        out.ok += 1;
        out.latency.record(conn.started.elapsed().as_micros() as u64);
        conn.response.clear();
        conn.sent = 0;
    }
}

/// The status code of a response head.
fn status(head: &[u8]) -> io::Result<u16> {
    let line = head.split(|&b| b == b'\r').next().unwrap_or_default();
    let code = line.split(|&b| b == b' ').nth(1).and_then(|c| std::str::from_utf8(c).ok());
    code.and_then(|c| c.parse().ok()).ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "bad status line"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_status_codes() {
        assert_eq!(status(b"HTTP/1.1 204 No Content\r\n\r\n").unwrap(), 204);
        assert_eq!(status(b"HTTP/1.1 200 OK\r\nX: y\r\n\r\n").unwrap(), 200);
        assert!(status(b"garbage\r\n\r\n").is_err());
    }
}
