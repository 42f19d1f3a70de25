//! The no-HTTP ceiling of W1: what this machine can move from a loopback TCP socket into the page cache.
//!
//! A sender thread writes `size` bytes in `chunk`-sized messages, each acknowledged by one byte once the receiver
//! has written it into the file (as a PATCH is answered once stored). The receiver does only what any user-space
//! server must: one thread reads the socket into buffers of `buffer` bytes, a second writes them into the file
//! with `pwrite`, so that reading and writing overlap. No parsing, no framing, no syncs. An HTTP server in user
//! space (without `splice`) cannot beat it on the same machine at the same moment, so it bounds what any server's
//! W1 without fsync can reach.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::thread;
use std::time::{Duration, Instant};

use crate::hist::Histogram;
use crate::workload::Outcome;

/// Buffers in flight between the socket reader and the file writer.
const BUFFERS: usize = 3;

/// A side that waits this long for the other has lost it: an error, never a hang.
const STALL: Duration = Duration::from_secs(60);

/// Moves `size` bytes over loopback into a new file at `path`, in acknowledged `chunk`s. The file is left for the
/// caller to remove.
pub fn loopback_into_file(path: &Path, size: u64, chunk: u64, buffer: usize) -> io::Result<Outcome> {
    if chunk == 0 || buffer == 0 {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, "chunk and buffer must not be 0"));
    }
    let file = OpenOptions::new().write(true).create_new(true).open(path)?;
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    let receiver = thread::spawn(move || -> io::Result<()> {
        let (socket, _) = listener.accept()?;
        receive(socket, file, size, chunk, buffer)
    });
    let sent = send(TcpStream::connect(addr)?, size, chunk);
    let received = receiver.join().unwrap_or_else(|_| Err(io::Error::other("the receiver panicked")));
    let elapsed = sent.and_then(|elapsed| received.map(|()| elapsed))?;
    let mut latency = Histogram::new();
    latency.record(elapsed.as_micros() as u64);
    Ok(Outcome { ok: 1, errors: 0, bytes: size, elapsed, latency, first_error: None, cut_short: false, connects: 1 })
}

/// The client side: `chunk`-sized messages from one buffer, each waiting for its acknowledgement.
fn send(mut socket: TcpStream, size: u64, chunk: u64) -> io::Result<Duration> {
    socket.set_nodelay(true)?;
    socket.set_read_timeout(Some(STALL))?;
    let message = vec![0x5a_u8; usize::try_from(chunk.min(size)).unwrap_or(usize::MAX)];
    let started = Instant::now();
    let (mut sent, mut ack) = (0, [0_u8; 1]);
    while sent < size {
        let n = chunk.min(size - sent) as usize;
        socket.write_all(&message[..n])?;
        socket.read_exact(&mut ack)?;
        sent += n as u64;
    }
    Ok(started.elapsed())
}

/// A buffer on its way to the file: the bytes, how many are filled, where they go, and whether they end a chunk.
struct Filled {
    data: Vec<u8>,
    len: usize,
    offset: u64,
    ends_chunk: bool,
}

/// The server side: this thread reads the socket, a second one writes the file.
fn receive(mut socket: TcpStream, file: File, size: u64, chunk: u64, buffer: usize) -> io::Result<()> {
    socket.set_nodelay(true)?;
    socket.set_read_timeout(Some(STALL))?;
    let (to_writer, filled) = sync_channel::<Filled>(BUFFERS);
    let (give_back, free) = sync_channel::<Vec<u8>>(BUFFERS);
    let (chunk_stored, stored) = sync_channel::<()>(1);
    for _ in 0..BUFFERS {
        give_back.send(vec![0; buffer]).map_err(|_| io::Error::other("buffer queue closed"))?;
    }
    let writer = thread::spawn(move || write_file(&file, &filled, &give_back, &chunk_stored));
    let read = read_socket(&mut socket, size, chunk, &to_writer, &free, &stored);
    drop(to_writer);
    let written = writer.join().unwrap_or_else(|_| Err(io::Error::other("the file writer panicked")));
    read.and(written)
}

fn read_socket(
    socket: &mut TcpStream,
    size: u64,
    chunk: u64,
    to_writer: &SyncSender<Filled>,
    free: &Receiver<Vec<u8>>,
    stored: &Receiver<()>,
) -> io::Result<()> {
    let closed = || io::Error::other("the file writer stopped");
    let mut offset = 0;
    while offset < size {
        let chunk_end = (offset + chunk).min(size);
        while offset < chunk_end {
            let mut data = free.recv().map_err(|_| closed())?;
            let want = usize::try_from(chunk_end - offset).unwrap_or(usize::MAX).min(data.len());
            socket.read_exact(&mut data[..want])?;
            let ends_chunk = offset + want as u64 == chunk_end;
            to_writer.send(Filled { data, len: want, offset, ends_chunk }).map_err(|_| closed())?;
            offset += want as u64;
        }
        stored.recv().map_err(|_| closed())?;
        socket.write_all(b"k")?;
    }
    Ok(())
}

fn write_file(
    file: &File,
    filled: &Receiver<Filled>,
    give_back: &SyncSender<Vec<u8>>,
    chunk_stored: &SyncSender<()>,
) -> io::Result<()> {
    while let Ok(Filled { data, len, offset, ends_chunk }) = filled.recv() {
        file.write_all_at(&data[..len], offset)?;
        // The reader may already be gone (it failed); then nobody needs the buffer or the acknowledgement.
        let _ = give_back.send(data);
        if ends_chunk {
            let _ = chunk_stored.send(());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn moves_every_byte_into_the_file() {
        let dir = std::env::temp_dir().join(format!("tus-bench-ceiling-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("sink");
        // Chunks that do not divide the size, and buffers that do not divide the chunks.
        let outcome = loopback_into_file(&path, 1_000_003, 300_007, 65_536).unwrap();
        assert_eq!((outcome.ok, outcome.bytes, outcome.errors), (1, 1_000_003, 0));
        assert!(outcome.mib_per_second() > 0.0);
        let stored = std::fs::read(&path).unwrap();
        assert_eq!(stored.len(), 1_000_003);
        assert!(stored.iter().all(|&b| b == 0x5a), "every byte arrived as sent");
        assert!(loopback_into_file(&path, 10, 1, 1).is_err(), "an existing file is not overwritten");
        std::fs::remove_file(&path).unwrap();
        assert!(loopback_into_file(&path, 10, 0, 1).is_err(), "a zero chunk is refused");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
