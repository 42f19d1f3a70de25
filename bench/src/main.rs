//! The `tus-bench` command: run one workload against a TUS endpoint and append its figures to a records file, or
//! render the report from such a file. See `bench/README.md`.

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use tus_bench::http::Endpoint;
use tus_bench::procfs::MachineCpu;
use tus_bench::record::{self, Records, Tags};
use tus_bench::workload::{self, UploadPlan};
use tus_bench::{outcome_records, Measured};
use tus_bench::{procfs, report};

const USAGE: &str = "usage:
  tus-bench upload --url URL --count N --size BYTES --chunk BYTES --concurrency C [--create-only] [--max-secs S]
                   [--http2 [--connections K]] [--pid SERVER_PID] [--record FILE --server NAME --mode MODE --case CASE]
                   (--http2: cleartext HTTP/2 with prior knowledge, the C clients dealt out over K connections;
                   K defaults to C, one connection per client)
  tus-bench head   --url URL --concurrency C --secs S [--target PATH] [--pid SERVER_PID] [--record FILE ...]
  tus-bench ceiling --file PATH --size BYTES --chunk BYTES [--buffer BYTES] [--record FILE ...]
                   (loopback TCP into a new file, no HTTP: W1's ceiling; the file is removed afterwards)
  tus-bench floor  --count N --size BYTES [--record FILE ...]
                   (an upload's two exchanges over loopback, no HTTP, no files: W2's floor at one client)
  tus-bench durable --dir DIR --files N --size BYTES --writers W [--record FILE ...]
                   (new files written and fsynced in DIR by W threads: W2's disk floor with fsync; files are kept)
  tus-bench report --records FILE --out FILE
BYTES accept K, M and G suffixes (KiB, MiB, GiB).";

/// `--name value` options and bare `--flag`s.
struct Args(HashMap<String, String>);

impl Args {
    fn parse(raw: &[String]) -> Result<Args, String> {
        let mut map = HashMap::new();
        let mut i = 0;
        while i < raw.len() {
            let name = raw[i].strip_prefix("--").ok_or_else(|| format!("unexpected argument {:?}", raw[i]))?;
            if name == "create-only" || name == "http2" {
                map.insert(name.to_owned(), "1".to_owned());
                i += 1;
            } else {
                let value = raw.get(i + 1).ok_or_else(|| format!("--{name} needs a value"))?;
                map.insert(name.to_owned(), value.clone());
                i += 2;
            }
        }
        Ok(Args(map))
    }

    fn get(&self, name: &str) -> Result<&str, String> {
        self.0.get(name).map(String::as_str).ok_or_else(|| format!("missing --{name}"))
    }

    fn bytes(&self, name: &str) -> Result<u64, String> {
        let text = self.get(name)?;
        let (digits, unit) = match text.chars().last() {
            Some('K' | 'k') => (&text[..text.len() - 1], 1 << 10),
            Some('M' | 'm') => (&text[..text.len() - 1], 1 << 20),
            Some('G' | 'g') => (&text[..text.len() - 1], 1 << 30),
            _ => (text, 1),
        };
        digits.parse::<u64>().map(|n| n * unit).map_err(|_| format!("--{name}: not a size: {text}"))
    }

    fn number(&self, name: &str) -> Result<u64, String> {
        self.get(name)?.parse().map_err(|_| format!("--{name}: not a number"))
    }

    fn secs(&self, name: &str, default: f64) -> Result<Duration, String> {
        match self.0.get(name) {
            None => Ok(Duration::from_secs_f64(default)),
            Some(text) => text
                .parse::<f64>()
                .ok()
                .filter(|s| *s > 0.0 && *s < 1e6)
                .map(Duration::from_secs_f64)
                .ok_or_else(|| format!("--{name}: not a duration in seconds")),
        }
    }
}

fn run(raw: &[String]) -> Result<bool, String> {
    let command = raw.first().ok_or("no command")?.as_str();
    let args = Args::parse(&raw[1..])?;
    if command == "report" {
        let text = std::fs::read_to_string(args.get("records")?).map_err(|e| format!("records: {e}"))?;
        let out = PathBuf::from(args.get("out")?);
        std::fs::write(&out, report::render(&Records::parse(&text))).map_err(|e| format!("{}: {e}", out.display()))?;
        println!("wrote {}", out.display());
        return Ok(true);
    }
    if command == "ceiling" {
        return ceiling(&args);
    }
    if command == "floor" {
        return floor(&args);
    }
    if command == "durable" {
        return durable(&args);
    }
    let endpoint = Endpoint::parse(args.get("url")?)?;
    let concurrency = args.number("concurrency")? as usize;
    if concurrency == 0 || concurrency > 4096 {
        return Err("--concurrency must be 1..=4096".to_owned());
    }
    let pid: Option<u32> = args.0.get("pid").map(|p| p.parse().map_err(|_| "--pid: not a number")).transpose()?;
    let server_cpu_before = pid.and_then(procfs::tree_cpu_seconds);
    let client_cpu_before = procfs::cpu_seconds("self");
    let machine_before = MachineCpu::now();
    let outcome = match command {
        "upload" => {
            let plan = UploadPlan {
                count: args.number("count")?,
                size: args.bytes("size")?,
                chunk: args.bytes("chunk")?.max(1),
                concurrency,
                create_only: args.0.contains_key("create-only"),
                max_time: args.secs("max-secs", 1800.0)?,
            };
            if args.0.contains_key("http2") {
                let connections = match args.0.get("connections") {
                    Some(_) => args.number("connections")? as usize,
                    None => concurrency,
                };
                if connections == 0 || connections > concurrency {
                    return Err("--connections must be 1..=--concurrency".to_owned());
                }
                tus_bench::http2::uploads(&endpoint, &plan, connections)
            } else if args.0.contains_key("connections") {
                return Err("--connections needs --http2".to_owned());
            } else {
                workload::uploads(&endpoint, &plan)
            }
        }
        "head" => {
            let target = match args.0.get("target") {
                Some(target) => target.clone(),
                None => {
                    workload::prepare_head_target(&endpoint).map_err(|e| format!("preparing the HEAD target: {e}"))?
                }
            };
            tus_bench::evented::heads(&endpoint, &target, concurrency, args.secs("secs", 10.0)?)
        }
        other => return Err(format!("unknown command {other}")),
    };
    let measured = Measured {
        client_cpu_s: client_cpu_before.and_then(|b| Some(procfs::cpu_seconds("self")? - b)),
        server_cpu_s: server_cpu_before.and_then(|b| Some(procfs::tree_cpu_seconds(pid?)? - b)),
        peak_rss_mib: pid.and_then(procfs::tree_peak_rss_kib).map(|kib| kib as f64 / 1024.0),
        stolen_pct: stolen_since(machine_before),
    };
    let label = if args.0.contains_key("http2") { "upload over HTTP/2" } else { command };
    println!(
        "{label}: {} ok, {} errors in {:.2} s: {:.1}/s, {:.1} MiB/s, p50 {:.2} ms, p99 {:.2} ms, {} connections{}{}{}{}",
        outcome.ok,
        outcome.errors,
        outcome.elapsed.as_secs_f64(),
        outcome.per_second(),
        outcome.mib_per_second(),
        outcome.latency.quantile(0.5) as f64 / 1000.0,
        outcome.latency.quantile(0.99) as f64 / 1000.0,
        outcome.connects,
        measured.client_cpu_s.map_or(String::new(), |c| format!(", client CPU {c:.2} s")),
        measured.server_cpu_s.map_or(String::new(), |c| format!(", server CPU {c:.2} s")),
        measured.peak_rss_mib.map_or(String::new(), |m| format!(", server peak RSS {m:.1} MiB")),
        stolen_text(measured.stolen_pct),
    );
    if let Some(error) = &outcome.first_error {
        eprintln!("first error: {error}");
    }
    record_outcome(&args, &outcome, &measured)?;
    Ok(outcome.errors == 0 && !outcome.cut_short)
}

/// Percent of the machine's CPU time stolen by the hypervisor since `before`.
fn stolen_since(before: Option<MachineCpu>) -> Option<f64> {
    before?.stolen_percent_until(MachineCpu::now()?)
}

fn stolen_text(stolen_pct: Option<f64>) -> String {
    stolen_pct.map_or(String::new(), |p| format!(", {p:.1} % of CPU time stolen"))
}

/// Appends the outcome's records to `--record FILE`, if given, tagged with `--server`, `--mode` and `--case`.
fn record_outcome(args: &Args, outcome: &workload::Outcome, measured: &Measured) -> Result<(), String> {
    let Some(path) = args.0.get("record") else { return Ok(()) };
    let tags = Tags {
        server: args.get("server")?.to_owned(),
        mode: args.get("mode")?.to_owned(),
        case: args.get("case")?.to_owned(),
    };
    let records = outcome_records(&tags, outcome, measured);
    record::append(std::path::Path::new(path), &records).map_err(|e| format!("{path}: {e}"))
}

/// `tus-bench ceiling`: W1's no-HTTP ceiling (see [`tus_bench::ceiling`]).
fn ceiling(args: &Args) -> Result<bool, String> {
    let path = PathBuf::from(args.get("file")?);
    let buffer = match args.0.get("buffer") {
        Some(_) => usize::try_from(args.bytes("buffer")?).map_err(|_| "--buffer: too large")?,
        None => 256 << 10,
    };
    let cpu_before = procfs::cpu_seconds("self");
    let machine_before = MachineCpu::now();
    let moved = tus_bench::ceiling::loopback_into_file(&path, args.bytes("size")?, args.bytes("chunk")?, buffer);
    let _ = std::fs::remove_file(&path);
    let outcome = moved.map_err(|e| format!("{}: {e}", path.display()))?;
    let cpu = cpu_before.and_then(|b| Some(procfs::cpu_seconds("self")? - b));
    let stolen_pct = stolen_since(machine_before);
    println!(
        "ceiling: {} MiB in {:.2} s: {:.1} MiB/s{}{}",
        outcome.bytes >> 20,
        outcome.elapsed.as_secs_f64(),
        outcome.mib_per_second(),
        cpu.map_or(String::new(), |c| format!(", CPU {c:.2} s (sender and receiver)")),
        stolen_text(stolen_pct),
    );
    record_outcome(args, &outcome, &Measured { server_cpu_s: cpu, stolen_pct, ..Measured::default() })?;
    Ok(true)
}

/// `--size` of the tools that hold one upload's bytes in memory (`floor`, `durable`): at most 64 MiB.
fn buffer_size(args: &Args) -> Result<usize, String> {
    let size = usize::try_from(args.bytes("size")?).map_err(|_| "--size: too large")?;
    if size > 64 << 20 {
        return Err("--size: at most 64M".to_owned());
    }
    Ok(size)
}

/// `tus-bench floor`: W2's no-HTTP floor at one client (see [`tus_bench::floor`]).
fn floor(args: &Args) -> Result<bool, String> {
    let count = args.number("count")?;
    let size = buffer_size(args)?;
    let cpu_before = procfs::cpu_seconds("self");
    let machine_before = MachineCpu::now();
    let outcome = tus_bench::floor::bare_exchanges(count, size).map_err(|e| format!("floor: {e}"))?;
    let cpu = cpu_before.and_then(|b| Some(procfs::cpu_seconds("self")? - b));
    let stolen_pct = stolen_since(machine_before);
    println!(
        "floor: {} uploads in {:.2} s: {:.1}/s, p50 {} µs, p99 {} µs{}{}",
        outcome.ok,
        outcome.elapsed.as_secs_f64(),
        outcome.per_second(),
        outcome.latency.quantile(0.5),
        outcome.latency.quantile(0.99),
        cpu.map_or(String::new(), |c| format!(", CPU {c:.2} s (client and responder)")),
        stolen_text(stolen_pct),
    );
    record_outcome(args, &outcome, &Measured { server_cpu_s: cpu, stolen_pct, ..Measured::default() })?;
    Ok(true)
}

/// `tus-bench durable`: W2's disk floor with fsync (see [`tus_bench::durable`]).
fn durable(args: &Args) -> Result<bool, String> {
    let dir = PathBuf::from(args.get("dir")?);
    let size = buffer_size(args)?;
    let writers = args.number("writers")?;
    if !(1..=4096).contains(&writers) {
        return Err("--writers must be 1..=4096".to_owned());
    }
    let machine_before = MachineCpu::now();
    let outcome = tus_bench::durable::new_files(&dir, args.number("files")?, size, writers as usize)
        .map_err(|e| format!("durable: {}: {e}", dir.display()))?;
    let stolen_pct = stolen_since(machine_before);
    println!(
        "durable: {} new files of {size} B, {writers} writer(s), in {:.2} s: {:.1} files/s, p50 {} µs, p99 {} µs{}",
        outcome.ok,
        outcome.elapsed.as_secs_f64(),
        outcome.per_second(),
        outcome.latency.quantile(0.5),
        outcome.latency.quantile(0.99),
        stolen_text(stolen_pct),
    );
    record_outcome(args, &outcome, &Measured { stolen_pct, ..Measured::default() })?;
    Ok(true)
}

fn main() -> ExitCode {
    let raw: Vec<String> = std::env::args().skip(1).collect();
    match run(&raw) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(error) => {
            eprintln!("tus-bench: {error}\n{USAGE}");
            ExitCode::from(2)
        }
    }
}
