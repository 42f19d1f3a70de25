//! The storage side of many small uploads, without HTTP: what one upload costs the store.
//!
//! Each upload is what a POST and one whole PATCH ask of [`FileStore`]: `create` (then the writer is dropped, as
//! at the end of the POST), `open`, `write_at` and `commit(.., complete)`. Prints the CPU time of the process per
//! upload, user and system apart, so builds can be compared without the noise of a network and a load client.
//!
//! ```text
//! cargo run --release -p tus-storage --example small_uploads -- DIR [COUNT] [THREADS] [SIZE] [fsync]
//! ```
//! `DIR` must not exist yet (it is created, and left behind for inspection: delete it yourself).

use std::time::{Instant, SystemTime};

use tus_proto::Metadata;
use tus_storage::{FileStore, StoreConfig};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = "usage: small_uploads DIR [COUNT] [THREADS] [SIZE] [fsync]";
    let dir = std::path::PathBuf::from(args.first().ok_or(usage)?);
    let count: usize = args.get(1).map_or(Ok(10_000), |s| s.parse())?;
    let threads: usize = args.get(2).map_or(Ok(1), |s| s.parse())?;
    let size: usize = args.get(3).map_or(Ok(4096), |s| s.parse())?;
    let fsync = args.get(4).is_some_and(|s| s == "fsync");
    if dir.exists() {
        return Err(format!("{} exists already", dir.display()).into());
    }
    let mut config = StoreConfig::new(dir.join("uploads"), dir.join("completed"));
    config.fsync = fsync;
    let store = FileStore::new(config)?;
    let body = vec![b'Z'; size];

    let (cpu_before, started) = (cpu_times()?, Instant::now());
    std::thread::scope(|scope| {
        for t in 0..threads {
            let (store, body) = (&store, &body);
            scope.spawn(move || {
                for _ in (t..count).step_by(threads) {
                    let (created, id) = store
                        .create_with(
                            Some(body.len() as u64),
                            Metadata::default(),
                            Metadata::default(),
                            SystemTime::now(),
                        )
                        .expect("create");
                    drop(created);
                    let (mut writer, _) = store.open(id).expect("open");
                    writer.write_at(0, body).expect("write");
                    writer.commit(body.len() as u64, true).expect("commit");
                }
            });
        }
    });
    let (cpu_after, wall) = (cpu_times()?, started.elapsed());
    let per_upload = |before: f64, after: f64| (after - before) / count as f64 * 1e6;
    println!(
        "{count} uploads of {size} B, {threads} thread(s), fsync {fsync}: {:.0}/s; CPU per upload {:.1} µs user, \
         {:.1} µs system",
        count as f64 / wall.as_secs_f64(),
        per_upload(cpu_before.0, cpu_after.0),
        per_upload(cpu_before.1, cpu_after.1),
    );
    Ok(())
}

/// User and system CPU seconds of this process so far (`/proc/self/stat`, fields 14 and 15, in clock ticks).
fn cpu_times() -> Result<(f64, f64), Box<dyn std::error::Error>> {
    let stat = std::fs::read_to_string("/proc/self/stat")?;
    // The command name (field 2) is in parentheses and may hold spaces: count fields after its closing one.
    let rest = stat.rsplit_once(')').ok_or("unexpected /proc/self/stat")?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| -> Result<f64, Box<dyn std::error::Error>> { Ok(fields[i].parse::<f64>()? / 100.0) };
    // `rest` starts at field 3 (state): field 14 is index 11.
    Ok((ticks(11)?, ticks(12)?))
}
