//! Network faults over real sockets, on every runtime: a client cut off mid-PATCH, and a stale request taken
//! over by a resuming client.

mod common;

use std::io::Write;
use std::net::{Shutdown, SocketAddr};
use std::time::{Duration, Instant};

use common::{exchange, patch_head, pattern, read_reply, Reply};
use tussi_e2e::{Options, TestServer, ALL};

/// Bound on every socket read and write.
const IO_TIMEOUT: Duration = Duration::from_secs(15);

fn create(addr: SocketAddr, length: u64) -> String {
    common::create(addr, length, IO_TIMEOUT)
}

fn head_offset(addr: SocketAddr, id: &str) -> u64 {
    common::head_offset(addr, id, IO_TIMEOUT)
}

fn patch(addr: SocketAddr, id: &str, offset: u64, data: &[u8]) -> Reply {
    let mut request = patch_head(id, offset, data.len());
    request.extend_from_slice(data);
    exchange(addr, &request, IO_TIMEOUT)
}

/// Waits until HEAD reports `expected` (the commit of a broken-off body happens just after the disconnect).
fn wait_for_offset(addr: SocketAddr, id: &str, expected: u64) -> u64 {
    common::wait_for_offset(addr, id, expected, IO_TIMEOUT)
}

#[test]
fn a_client_cut_off_mid_patch_keeps_the_bytes_it_sent() {
    for rt in ALL {
        let server = TestServer::start(rt, Options::default());
        let data = pattern(1 << 20, 1);
        let id = create(server.addr, data.len() as u64);

        let sent = 300 * 1024 + 17;
        let mut stream = common::connect(server.addr, IO_TIMEOUT);
        stream.write_all(&patch_head(&id, 0, data.len())).expect("head");
        stream.write_all(&data[..sent]).expect("part of the body");
        stream.shutdown(Shutdown::Both).expect("cut off");
        drop(stream);

        assert_eq!(wait_for_offset(server.addr, &id, sent as u64), sent as u64, "{rt:?}: HEAD shows the stored bytes");
        let reply = patch(server.addr, &id, sent as u64, &data[sent..]);
        assert_eq!(reply.status, 204, "{rt:?}");
        let stored = std::fs::read(server.completed_file(&id)).expect("finished file");
        assert!(stored == data, "{rt:?}: the resumed upload is byte-identical");
    }
}

#[test]
fn a_client_cut_off_mid_way_through_a_small_body_keeps_the_bytes_it_sent() {
    // A body this small is read whole before the upload is opened: the cut lands while the request is still
    // reading, and what arrived must be committed all the same.
    for rt in ALL {
        let server = TestServer::start(rt, Options::default());
        let data = pattern(40 * 1024, 2);
        let id = create(server.addr, data.len() as u64);

        let sent = 10 * 1024 + 17;
        let mut stream = common::connect(server.addr, IO_TIMEOUT);
        stream.write_all(&patch_head(&id, 0, data.len())).expect("head");
        stream.write_all(&data[..sent]).expect("part of the body");
        std::thread::sleep(Duration::from_millis(100)); // the server is now waiting for the rest
        stream.shutdown(Shutdown::Both).expect("cut off");
        drop(stream);

        assert_eq!(wait_for_offset(server.addr, &id, sent as u64), sent as u64, "{rt:?}: HEAD shows the stored bytes");
        assert_eq!(patch(server.addr, &id, sent as u64, &data[sent..]).status, 204, "{rt:?}");
        let stored = std::fs::read(server.completed_file(&id)).expect("finished file");
        assert!(stored == data, "{rt:?}: the resumed upload is byte-identical");
    }
}

#[test]
fn a_stale_request_is_taken_over_within_the_bound() {
    for rt in ALL {
        let release_timeout = Duration::from_secs(3);
        let server = TestServer::start(rt, Options { release_timeout, ..Options::default() });
        let data = pattern(512 * 1024, 3);
        let id = create(server.addr, data.len() as u64);

        // A stale request: half of its body, then silence with the connection open (a half-open client).
        let sent = 100 * 1024;
        let mut stale = common::connect(server.addr, IO_TIMEOUT);
        stale.write_all(&patch_head(&id, 0, data.len())).expect("head");
        stale.write_all(&data[..sent]).expect("part of the body");
        std::thread::sleep(Duration::from_millis(300));

        // The resuming client: HEAD, PATCH (which takes over), and a 409 carrying the offset the stale one stored.
        let started = Instant::now();
        let offset = head_offset(server.addr, &id);
        assert!(offset == 0 || offset == sent as u64, "{rt:?}: HEAD offset {offset}");
        let reply = patch(server.addr, &id, offset, &data[offset as usize..]);
        let taken_over = started.elapsed();
        let resume_at = match reply.status {
            204 => data.len() as u64,
            409 => reply.offset().expect("offset in 409"),
            other => panic!("{rt:?}: resuming PATCH answered {other}"),
        };
        assert_eq!(resume_at, if reply.status == 409 { sent as u64 } else { data.len() as u64 }, "{rt:?}");
        assert!(taken_over < release_timeout, "{rt:?}: served in {taken_over:?}, bound {release_timeout:?}");
        if reply.status == 409 {
            assert_eq!(patch(server.addr, &id, resume_at, &data[resume_at as usize..]).status, 204, "{rt:?}");
        }
        // The stale request was answered (it lost the upload) rather than left hanging.
        let stale_reply = read_reply(&mut stale, false).expect("the stale request's response");
        assert!(stale_reply.status >= 400, "{rt:?}: stale request answered {}", stale_reply.status);
        assert!(std::fs::read(server.completed_file(&id)).expect("finished") == data, "{rt:?}: data intact");
        eprintln!("{rt:?}: resuming request served in {taken_over:?}");
    }
}
