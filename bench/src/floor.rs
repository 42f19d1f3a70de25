//! The no-HTTP floor of W2 at one client: what an upload's two exchanges cost on this machine when the server does
//! nothing at all.
//!
//! A W2 upload is two request-response exchanges on one keep-alive connection: the POST (a head only, answered by
//! a 201 head) and the PATCH (a head and the body, answered by a 204 head). Here a client thread sends the same
//! number of bytes, and a responder thread reads exactly that many and answers with a response of the same size:
//! no parsing, no files, both threads blocking in the kernel between messages as a server and a client at one
//! connection do. Every server's one-client W2 pays at least this on the same machine at the same moment, plus its
//! own HTTP and file work; on a VM much of it is the wake-up of a thread on the other, idle CPU, which
//! `taskset -c 0` (both threads on one CPU) shows.

use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

use crate::hist::Histogram;
use crate::workload::Outcome;

/// Bytes of W2's POST request (head only), as `tus-bench upload` sends it to tussi.
const POST_REQUEST: usize = 110;
/// Bytes of tussi's 201 response head to it.
const POST_RESPONSE: usize = 179;
/// Bytes of W2's PATCH request head (the body comes on top).
const PATCH_HEAD: usize = 194;
/// Bytes of tussi's 204 response head to it.
const PATCH_RESPONSE: usize = 107;

/// A side that waits this long for the other has lost it: an error, never a hang.
const STALL: Duration = Duration::from_secs(60);

/// (request bytes, response bytes) of one upload's exchanges: the POST, then the PATCH with its body.
type Exchanges = [(usize, usize); 2];

fn upload_exchanges(body: usize) -> Exchanges {
    [(POST_REQUEST, POST_RESPONSE), (PATCH_HEAD + body, PATCH_RESPONSE)]
}

/// The largest message of an upload, in either direction: the size of each side's buffers.
fn largest(exchanges: &Exchanges) -> usize {
    exchanges.iter().map(|&(request, response)| request.max(response)).max().unwrap_or(0)
}

/// Runs `count` uploads of `body` bytes as bare exchanges over loopback (see the module docs); one operation of
/// the outcome is one upload.
pub fn bare_exchanges(count: u64, body: usize) -> io::Result<Outcome> {
    if count == 0 {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, "count must not be 0"));
    }
    let exchanges = upload_exchanges(body);
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    let responder = thread::spawn(move || -> io::Result<()> {
        let (socket, _) = listener.accept()?;
        respond(socket, count, exchanges)
    });
    let sent = send(TcpStream::connect(addr)?, count, exchanges);
    let responded = responder.join().unwrap_or_else(|_| Err(io::Error::other("the responder panicked")));
    let (latency, elapsed) = sent.and_then(|sent| responded.map(|()| sent))?;
    let bytes = count * body as u64;
    Ok(Outcome { ok: count, errors: 0, bytes, elapsed, latency, first_error: None, cut_short: false, connects: 1 })
}

fn configure(socket: &TcpStream) -> io::Result<()> {
    socket.set_nodelay(true)?;
    socket.set_read_timeout(Some(STALL))?;
    socket.set_write_timeout(Some(STALL))
}

/// The client side: each exchange's request in one write, then its whole response.
fn send(mut socket: TcpStream, count: u64, exchanges: Exchanges) -> io::Result<(Histogram, Duration)> {
    configure(&socket)?;
    let message = vec![0x5a_u8; largest(&exchanges)];
    let mut response = vec![0_u8; largest(&exchanges)];
    let mut latency = Histogram::new();
    let started = Instant::now();
    for _ in 0..count {
        let upload_started = Instant::now();
        for (request, answer) in exchanges {
            socket.write_all(&message[..request])?;
            socket.read_exact(&mut response[..answer])?;
        }
        latency.record(upload_started.elapsed().as_micros() as u64);
    }
    Ok((latency, started.elapsed()))
}

/// The server side: reads each request whole, answers it at once.
fn respond(mut socket: TcpStream, count: u64, exchanges: Exchanges) -> io::Result<()> {
    configure(&socket)?;
    let message = vec![0x61_u8; largest(&exchanges)];
    let mut request = vec![0_u8; largest(&exchanges)];
    for _ in 0..count {
        for (asked, answer) in exchanges {
            socket.read_exact(&mut request[..asked])?;
            socket.write_all(&message[..answer])?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_upload_is_two_whole_exchanges() {
        let outcome = bare_exchanges(200, 4096).unwrap();
        assert_eq!((outcome.ok, outcome.errors, outcome.connects), (200, 0, 1));
        assert_eq!(outcome.bytes, 200 * 4096);
        assert_eq!(outcome.latency.count(), 200, "one latency per upload");
        assert!(outcome.per_second() > 0.0);
        // No upload takes longer than the whole run.
        assert!(outcome.latency.max() <= outcome.elapsed.as_micros() as u64);
    }

    #[test]
    fn a_zero_count_is_refused() {
        assert!(bare_exchanges(0, 4096).is_err());
    }
}
