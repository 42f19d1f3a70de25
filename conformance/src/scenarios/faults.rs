//! Network-fault scenarios: bodies cut off mid-way (any transport), and, over the wire only, stale requests left
//! open, concurrent PATCHes on one upload, stalled connections and malformed bytes. Every wait is bounded.

use std::sync::Barrier;
use std::thread;
use std::time::{Duration, Instant};

use super::CREATION;
use crate::client::{AfterCut, ClientError, Connection, RawRequest, Response, Watch};
use crate::context::{parse_uint, pattern, Ctx, DataCheck};
use crate::scenario::{Level, Outcome, Requirement, Scenario};
use crate::url::Url;

/// Upload length of the fault scenarios.
const TOTAL: usize = 256 * 1024;
/// Body bytes sent before a cut.
const SENT: usize = 96 * 1024;

/// The fault scenarios.
pub fn scenarios() -> Vec<Scenario> {
    let req = [CREATION, Requirement::Wire];
    let any = [CREATION];
    vec![
        Scenario::custom(
            "fault-disconnect-offset-bounds",
            "After a PATCH is cut off mid-body, HEAD reports an offset between the old offset and the bytes sent",
            "tus 1.0.0 core, PATCH: new offset = old offset + bytes received and stored",
            Level::Must,
            &any,
            disconnect_bounds,
        )
        .timed(),
        Scenario::custom(
            "fault-disconnect-keeps-data",
            "After a PATCH is cut off mid-body, the bytes received are kept",
            "tus 1.0.0 core, PATCH: store as much of the received data as possible",
            Level::Should,
            &any,
            disconnect_keeps,
        )
        .timed(),
        Scenario::custom(
            "fault-disconnect-resume",
            "After a cut-off PATCH, HEAD then PATCH from the reported offset completes the upload intact",
            "tus 1.0.0 core, HEAD then PATCH resumes an interrupted upload",
            Level::Must,
            &any,
            disconnect_resume,
        )
        .timed(),
        Scenario::custom(
            "fault-stale-resume",
            "While a stale PATCH stalls with its connection open, a new HEAD + PATCH resumes within the bound",
            "IETF resumable uploads, concurrency: a new request SHOULD terminate the stale one",
            Level::Recommended,
            &req,
            stale_resume,
        )
        .timed(),
        Scenario::custom(
            "fault-concurrent-patch",
            "Two concurrent PATCHes at the same offset: at most one succeeds and the stored data is intact",
            "tus 1.0.0 core, PATCH: Upload-Offset must equal the current offset, else 409",
            Level::Must,
            &req,
            concurrent_patches,
        )
        .timed(),
        Scenario::custom(
            "fault-server-timeout",
            "Does the server close a connection whose PATCH body stalls? (and after how long)",
            "tus 1.0.0 core, PATCH: a timeout SHOULD be handled by closing the connection",
            Level::Informational,
            &req,
            server_timeout,
        ),
        Scenario::custom(
            "fault-half-close",
            "A PATCH whose client half-closes after part of the body: response and stored offset",
            "tus 1.0.0 core, PATCH (partial bodies)",
            Level::Informational,
            &req,
            half_close,
        ),
        Scenario::custom(
            "fault-garbage-request",
            "Malformed bytes instead of a request: the answer, and whether the server still serves OPTIONS",
            "RFC 9112 message parsing (robustness)",
            Level::Informational,
            &[Requirement::Wire],
            garbage,
        ),
    ]
}

fn err(e: impl std::fmt::Display) -> Outcome {
    Outcome::Error(e.to_string())
}

/// Creates an upload, sends `SENT` of its `TOTAL` bytes and closes the connection (through the transport, so an
/// in-memory transport can abort the body the same way). Returns the URL and data.
fn cut_off_upload(ctx: &mut Ctx<'_>) -> Result<(Url, Vec<u8>), Outcome> {
    let url = ctx.create(TOTAL as u64).map_err(err)?;
    let data = pattern(TOTAL, 7);
    let mut req = ctx.patch_request(&url, 0, &data);
    req.delivery.cut = Some((SENT, AfterCut::Close));
    match ctx.send(&url, &req) {
        Err(ClientError::CutOff(_)) => {}
        Ok(r) => ctx.note(format!("the server answered {} before the cut", r.status)),
        Err(e) => return Err(err(e)),
    }
    if ctx.wire().is_some() {
        // Give the server time to notice the disconnect and commit.
        thread::sleep(Duration::from_millis(300));
    }
    Ok((url, data))
}

/// How long a server may take to commit what a cut-off request sent. Generous on purpose: a server commits in the
/// background, and on a loaded machine that can take seconds; only a server that keeps nothing waits it out.
const SETTLE: Duration = Duration::from_secs(10);

/// HEADs until the offset has settled after a disconnect (above zero and the same on two HEADs 300 ms apart), or
/// [`SETTLE`] passed; returns the last offset seen. Offsets seen going down are a violation: bytes once reported
/// stored cannot disappear.
fn settled_offset(ctx: &mut Ctx<'_>, url: &Url) -> Result<u64, Outcome> {
    let deadline = Instant::now() + SETTLE.min(ctx.remaining());
    let mut last: Option<u64> = None;
    loop {
        let (status, offset) = ctx.head(url).map_err(Outcome::Violation)?;
        if status / 100 != 2 {
            return Err(Outcome::Violation(format!("HEAD after the disconnect answered {status}")));
        }
        let offset =
            offset.ok_or_else(|| Outcome::Violation("HEAD after the disconnect lacks Upload-Offset".into()))?;
        if let Some(before) = last.filter(|&before| offset < before) {
            return Err(Outcome::Violation(format!("HEAD reported offset {before}, then {offset}: it went down")));
        }
        if ctx.wire().is_none() || (offset > 0 && last == Some(offset)) || Instant::now() >= deadline {
            return Ok(offset);
        }
        last = Some(offset);
        thread::sleep(Duration::from_millis(300));
    }
}

fn data_note(ctx: &Ctx<'_>, url: &Url, data: &[u8]) -> Result<String, Outcome> {
    match ctx.check_data(url, 0, data) {
        DataCheck::Match => Ok(format!("{} stored bytes verified", data.len())),
        DataCheck::Unknown => Ok("stored data not verified (no probe)".into()),
        DataCheck::Mismatch(m) => Err(Outcome::Violation(format!("stored data: {m}"))),
    }
}

fn disconnect_bounds(ctx: &mut Ctx<'_>) -> Outcome {
    let run = |ctx: &mut Ctx<'_>| -> Result<Outcome, Outcome> {
        let (url, data) = cut_off_upload(ctx)?;
        let offset = settled_offset(ctx, &url)?;
        if offset > SENT as u64 {
            return Ok(Outcome::Violation(format!("offset {offset} after only {SENT} bytes were sent")));
        }
        let note = data_note(ctx, &url, &data[..offset as usize])?;
        Ok(Outcome::Pass(format!("sent {SENT} of {TOTAL} bytes, then closed; HEAD offset {offset}; {note}")))
    };
    run(ctx).unwrap_or_else(|o| o)
}

fn disconnect_keeps(ctx: &mut Ctx<'_>) -> Outcome {
    let run = |ctx: &mut Ctx<'_>| -> Result<Outcome, Outcome> {
        let (url, _) = cut_off_upload(ctx)?;
        let offset = settled_offset(ctx, &url)?;
        if offset == 0 {
            return Ok(Outcome::Violation(format!("nothing kept of the {SENT} bytes sent before the disconnect")));
        }
        Ok(Outcome::Pass(format!("{offset} of {SENT} bytes sent were kept")))
    };
    run(ctx).unwrap_or_else(|o| o)
}

fn disconnect_resume(ctx: &mut Ctx<'_>) -> Outcome {
    let run = |ctx: &mut Ctx<'_>| -> Result<Outcome, Outcome> {
        let (url, data) = cut_off_upload(ctx)?;
        let mut offset = settled_offset(ctx, &url)?;
        let mut followed = Vec::new();
        loop {
            let at = usize::try_from(offset).unwrap_or(usize::MAX).min(TOTAL);
            let req = ctx.patch_request(&url, offset, &data[at..]);
            let resp = ctx.send(&url, &req).map_err(|e| Outcome::Violation(format!("resuming PATCH: {e}")))?;
            let new = resp.header("upload-offset").and_then(parse_uint);
            // A 409 naming a larger offset: the cut-off request's bytes were committed after HEAD answered (a
            // server may commit in the background). The server is right to refuse; a client resumes from there,
            // and so does the suite, a few times at most.
            if let Some(moved) = new.filter(|&n| resp.status == 409 && n > offset && n <= SENT as u64) {
                if followed.len() < 3 {
                    followed.push(format!("409 at {offset}, resumed at {moved}"));
                    offset = moved;
                    continue;
                }
            }
            if resp.status != 204 || new != Some(TOTAL as u64) {
                return Ok(Outcome::Violation(format!(
                    "resuming PATCH at {offset} answered {} with Upload-Offset {new:?} (expected 204 with {TOTAL})",
                    resp.status
                )));
            }
            break;
        }
        let note = data_note(ctx, &url, &data)?;
        let followed = if followed.is_empty() { String::new() } else { format!(" (after {})", followed.join(", ")) };
        Ok(Outcome::Pass(format!("resumed at {offset}{followed}, completed with 204; {note}")))
    };
    run(ctx).unwrap_or_else(|o| o)
}

fn stale_resume(ctx: &mut Ctx<'_>) -> Outcome {
    let run = |ctx: &mut Ctx<'_>| -> Result<Outcome, Outcome> {
        let url = ctx.create(TOTAL as u64).map_err(err)?;
        let data = pattern(TOTAL, 5);
        let wait = ctx.settings.stall_wait;
        let wire = ctx.wire().ok_or_else(|| Outcome::NotApplicable("wire-only".into()))?;
        let mut stale = wire.connect(&url).map_err(err)?;
        let mut resume = wire.connect_with(&url, wait).map_err(err)?;
        let mut req = ctx.patch_request(&url, 0, &data);
        req.delivery.cut = Some((SENT, AfterCut::Stall));
        stale.send(&req).map_err(|(_, e)| err(e))?;
        thread::sleep(Duration::from_millis(300));
        let start = Instant::now();
        let outcome = resume_while_stale(ctx, &mut resume, &url, &data, start, wait);
        drop(stale);
        drop(resume);
        // After the stale connection is gone, the upload must be usable again (noted, not judged here).
        thread::sleep(Duration::from_millis(300));
        match ctx.head(&url) {
            Ok((s, o)) => ctx.note(format!(
                "after closing the stale connection: HEAD {s}, offset {}",
                o.map_or("none".to_string(), |o| o.to_string())
            )),
            Err(e) => ctx.note(format!("after closing the stale connection: {e}")),
        }
        Ok(outcome)
    };
    run(ctx).unwrap_or_else(|o| o)
}

fn resume_while_stale(
    ctx: &mut Ctx<'_>,
    conn: &mut Connection,
    url: &Url,
    data: &[u8],
    start: Instant,
    wait: Duration,
) -> Outcome {
    let ms = |s: Instant| s.elapsed().as_millis();
    let head = ctx.head_request(url);
    let resp = match exchange_by(conn, &head, start + wait) {
        Ok(r) => r,
        Err(e) => {
            return Outcome::Violation(format!(
                "HEAD not answered while the stale PATCH is open ({e}, waited {} ms)",
                ms(start)
            ))
        }
    };
    let Some(offset) = resp.header("upload-offset").and_then(parse_uint).filter(|_| resp.status / 100 == 2) else {
        return Outcome::Violation(format!("HEAD answered {} without a usable Upload-Offset", resp.status));
    };
    let at = usize::try_from(offset).unwrap_or(usize::MAX).min(data.len());
    let patch = ctx.patch_request(url, offset, &data[at..]);
    match exchange_by(conn, &patch, start + wait) {
        Ok(r) if r.status == 204 => {
            Outcome::Pass(format!("resume served in {} ms (HEAD offset {offset}, PATCH 204)", ms(start)))
        }
        // The takeover made the stale request commit what it had: the 409 names the new offset, and a PATCH
        // there must then succeed (still while the stale connection is open).
        Ok(r) if r.status == 409 => match r.header("upload-offset").and_then(parse_uint).filter(|&o| o > offset) {
            Some(committed) => retry_at(ctx, url, data, committed, start, wait),
            None => Outcome::Violation(format!(
                "resuming PATCH at {offset} refused with 409 after {} ms, without a newer Upload-Offset",
                ms(start)
            )),
        },
        Ok(r) => Outcome::Violation(format!(
            "resuming PATCH at {offset} refused with {} after {} ms while the stale PATCH is open",
            r.status,
            ms(start)
        )),
        Err(e) => Outcome::Violation(format!("resuming PATCH at {offset} not answered ({e}, {} ms)", ms(start))),
    }
}

/// The second PATCH of a resume that was answered 409 with the offset the stale request committed.
fn retry_at(ctx: &mut Ctx<'_>, url: &Url, data: &[u8], committed: u64, start: Instant, wait: Duration) -> Outcome {
    let ms = start.elapsed().as_millis();
    let Some(wire) = ctx.wire() else { return Outcome::NotApplicable("wire-only".into()) };
    let mut conn = match wire.connect_with(url, wait) {
        Ok(conn) => conn,
        Err(e) => return Outcome::Error(e.to_string()),
    };
    let at = usize::try_from(committed).unwrap_or(usize::MAX).min(data.len());
    let patch = ctx.patch_request(url, committed, &data[at..]);
    match exchange_by(&mut conn, &patch, start + wait) {
        Ok(r) if r.status == 204 => Outcome::Pass(format!(
            "resume served in {} ms: PATCH 409 after {ms} ms with the stale request's committed offset {committed}, \
             then PATCH 204",
            start.elapsed().as_millis()
        )),
        Ok(r) => Outcome::Violation(format!("PATCH at the committed offset {committed} answered {}", r.status)),
        Err(e) => Outcome::Violation(format!("PATCH at the committed offset {committed} not answered ({e})")),
    }
}

/// Sends on an existing connection and waits for the response until `deadline`.
fn exchange_by(conn: &mut Connection, req: &RawRequest, deadline: Instant) -> Result<Response, ClientError> {
    conn.send(req).map_err(|(_, e)| e)?;
    conn.read_response(&req.effective_method(), deadline)
}

fn concurrent_patches(ctx: &mut Ctx<'_>) -> Outcome {
    const N: usize = 64 * 1024;
    let url = match ctx.create(2 * N as u64) {
        Ok(u) => u,
        Err(e) => return Outcome::Error(e),
    };
    let bodies = [pattern(N, 11), pattern(N, 12)];
    let reqs: Vec<RawRequest> = bodies.iter().map(|b| ctx.patch_request(&url, 0, b)).collect();
    let Some(wire) = ctx.wire() else { return Outcome::NotApplicable("wire-only".into()) };
    let timeouts = wire.timeouts();
    let barrier = Barrier::new(2);
    let results: Vec<Result<Response, String>> = thread::scope(|s| {
        let handles: Vec<_> = reqs
            .iter()
            .map(|req| {
                let (barrier, url) = (&barrier, &url);
                s.spawn(move || -> Result<Response, String> {
                    let opened = wire.connect(url);
                    let mut conn = match opened {
                        Ok(c) => c,
                        Err(e) => {
                            barrier.wait();
                            return Err(e.to_string());
                        }
                    };
                    let mut first = req.clone();
                    first.delivery.cut = Some((N / 2, AfterCut::Stall));
                    let half = conn.send(&first);
                    barrier.wait();
                    half.map_err(|(_, e)| e.to_string())?;
                    conn.write_all(&req.body[N / 2..]).map_err(|e| e.to_string())?;
                    conn.read_response("PATCH", Instant::now() + timeouts.io).map_err(|e| e.to_string())
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap_or_else(|_| Err("thread panicked".into()))).collect()
    });
    let shown: Vec<String> =
        results.iter().map(|r| r.as_ref().map_or_else(|e| e.clone(), |r| r.status.to_string())).collect();
    let winners: Vec<usize> = results
        .iter()
        .enumerate()
        .filter(|(_, r)| r.as_ref().is_ok_and(|r| r.status / 100 == 2))
        .map(|(i, _)| i)
        .collect();
    let statuses = shown.join(" and ");
    if winners.len() > 1 {
        return Outcome::Violation(format!("both PATCHes at offset 0 succeeded ({statuses})"));
    }
    let (status, offset) = match ctx.head(&url) {
        Ok(x) => x,
        Err(e) => return Outcome::Violation(format!("statuses {statuses}; then {e}")),
    };
    let Some(offset) = offset else {
        return Outcome::Violation(format!("statuses {statuses}; HEAD {status} without Upload-Offset"));
    };
    // With a winner, its whole body is the upload. Without one, a server may have committed part of a preempted
    // request (the stale-request takeover): the bytes must then be a prefix of one of the two bodies.
    let candidates: Vec<usize> = match winners.first() {
        Some(&w) if offset == N as u64 => vec![w],
        Some(_) => {
            return Outcome::Violation(format!(
                "statuses {statuses}; HEAD {status} reports offset {offset}, expected {N}"
            ))
        }
        None if offset <= N as u64 => vec![0, 1],
        None => return Outcome::Violation(format!("statuses {statuses}; HEAD offset {offset} exceeds one body")),
    };
    let len = usize::try_from(offset).unwrap_or(N);
    let mut unknown = false;
    for &i in &candidates {
        match ctx.check_data(&url, 0, &bodies[i][..len]) {
            DataCheck::Match => {
                return Outcome::Pass(format!(
                    "statuses {statuses}; HEAD offset {offset}; bytes of PATCH {} verified",
                    i + 1
                ))
            }
            DataCheck::Unknown => unknown = true,
            DataCheck::Mismatch(_) => {}
        }
    }
    if unknown {
        return Outcome::Pass(format!(
            "statuses {statuses}; HEAD offset {offset}; stored data not verified (no probe)"
        ));
    }
    Outcome::Violation(format!("statuses {statuses}; the {offset} stored bytes are not from one PATCH body"))
}

fn server_timeout(ctx: &mut Ctx<'_>) -> Outcome {
    let url = match ctx.create(1024) {
        Ok(u) => u,
        Err(e) => return Outcome::Error(e),
    };
    let within = ctx.settings.server_timeout_wait.min(ctx.remaining());
    let mut req = ctx.patch_request(&url, 0, &pattern(1024, 3));
    req.delivery.cut = Some((10, AfterCut::Stall));
    let Some(wire) = ctx.wire() else { return Outcome::NotApplicable("wire-only".into()) };
    let mut conn = match wire.connect(&url) {
        Ok(c) => c,
        Err(e) => return Outcome::Error(e.to_string()),
    };
    if let Err((_, e)) = conn.send(&req) {
        return Outcome::Error(e.to_string());
    }
    match conn.watch(within) {
        Watch::Closed(after, bytes) => Outcome::Observed(format!(
            "server closed the stalled connection after {:.1} s{}",
            after.as_secs_f64(),
            status_of(&bytes).map_or(String::new(), |s| format!(" (after answering {s})"))
        )),
        Watch::Open(bytes) => Outcome::Observed(format!(
            "connection still open after {:.1} s{}",
            within.as_secs_f64(),
            status_of(&bytes).map_or(String::new(), |s| format!(" (answered {s} but kept it open)"))
        )),
    }
}

fn status_of(bytes: &[u8]) -> Option<String> {
    let line = bytes.split(|&b| b == b'\n').next()?;
    let text = String::from_utf8_lossy(line);
    let code = text.split(' ').nth(1)?;
    (code.len() == 3 && code.bytes().all(|b| b.is_ascii_digit())).then(|| code.to_string())
}

fn half_close(ctx: &mut Ctx<'_>) -> Outcome {
    let url = match ctx.create(20) {
        Ok(u) => u,
        Err(e) => return Outcome::Error(e),
    };
    let mut req = ctx.patch_request(&url, 0, b"0123456789abcdefghij");
    req.delivery.cut = Some((10, AfterCut::HalfClose));
    let answer = match ctx.send(&url, &req) {
        Ok(r) => format!("answered {}", r.status),
        Err(e) => e.to_string(),
    };
    thread::sleep(Duration::from_millis(300));
    match ctx.head(&url) {
        Ok((s, Some(o))) if o <= 10 => Outcome::Observed(format!("{answer}; then HEAD {s} with offset {o}")),
        Ok((s, o)) => Outcome::Observed(format!("{answer}; then HEAD {s} with offset {o:?} (10 bytes were sent)")),
        Err(e) => Outcome::Observed(format!("{answer}; then {e}")),
    }
}

fn garbage(ctx: &mut Ctx<'_>) -> Outcome {
    let url = ctx.base.clone();
    let Some(wire) = ctx.wire() else { return Outcome::NotApplicable("wire-only".into()) };
    let answer = match wire.connect(&url) {
        Ok(mut conn) => match conn.write_all(b"\x01\x02 GARBAGE \xff\r\nNo-Colon-Here\r\n\r\n") {
            Ok(()) => match conn.read_response("GET", Instant::now() + wire.timeouts().io) {
                Ok(r) => format!("answered {}", r.status),
                Err(e) => e.to_string(),
            },
            Err(e) => e.to_string(),
        },
        Err(e) => return Outcome::Error(e.to_string()),
    };
    let options = ctx.raw("OPTIONS", &url);
    match ctx.send(&url, &options) {
        Ok(r) => Outcome::Observed(format!("{answer}; OPTIONS afterwards: {}", r.status)),
        Err(e) => Outcome::Observed(format!("{answer}; OPTIONS afterwards failed: {e} (server down?)")),
    }
}
