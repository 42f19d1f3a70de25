//! `tus-conformance URL`: run the conformance suite against a TUS server and print a verdict table.
#![forbid(unsafe_code)]

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use tus_conformance::{
    run, scenarios, Config, DataProbe, DirProbe, GetProbe, Settings, Timeouts, Tls, Url, WireTransport,
};

/// Checks a TUS server against the tus 1.0.0 protocol (core, creation and advertised extensions) and common
/// network faults. Exit status: 0 when no MUST is broken; 1 when one is (with --strict also on SHOULD warnings
/// and errors); 2 when the server cannot be reached or the arguments are wrong; 3 when nothing failed but the core
/// MUSTs could not be exercised (no scenario working on an upload ran: creation not advertised, or every POST
/// refused, e.g. for lack of credentials).
#[derive(Debug, Parser)]
#[command(name = "tus-conformance", version)]
struct Args {
    /// Creation endpoint of the server, e.g. http://127.0.0.1:8080/files/ or https://tus.example.org/files/ (a
    /// query is kept)
    #[arg(required_unless_present = "list")]
    url: Option<String>,
    /// https: trust the CA certificates of this PEM file instead of the Mozilla root certificates (a server whose
    /// certificate comes from a private CA).
    #[arg(long, value_name = "FILE", conflicts_with = "insecure")]
    ca_cert: Option<PathBuf>,
    /// https: accept any server certificate (self-signed, expired, another name). The traffic is encrypted but
    /// the server is not authenticated; the report says so in capitals.
    #[arg(long)]
    insecure: bool,
    /// Send this header with every request of the run, e.g. 'Authorization: Bearer TOKEN' (repeatable).
    #[arg(long = "header", short = 'H', value_name = "NAME: VALUE")]
    headers: Vec<String>,
    /// Leave the uploads the suite created on the server (by default they are deleted after the run when the
    /// server offers termination).
    #[arg(long)]
    keep: bool,
    /// Print the requests and responses of every scenario that did not pass (FAIL, warn, ERROR) after the table.
    #[arg(long, short = 'v')]
    verbose: bool,
    /// Print the report as JSON instead of the table (it always has the exchanges of the scenarios that did not
    /// pass).
    #[arg(long)]
    json: bool,
    /// Also write a JUnit XML report to this file.
    #[arg(long, value_name = "FILE")]
    junit: Option<PathBuf>,
    /// Fail (exit 1) on SHOULD warnings and on scenario errors too.
    #[arg(long)]
    strict: bool,
    /// Run only scenarios whose id matches this glob (repeatable; * and ?).
    #[arg(long, value_name = "ID-GLOB")]
    only: Vec<String>,
    /// Skip scenarios whose id matches this glob (repeatable).
    #[arg(long, value_name = "ID-GLOB")]
    skip: Vec<String>,
    /// List the scenarios and exit.
    #[arg(long)]
    list: bool,
    /// Assume these extensions (comma-separated) instead of asking OPTIONS.
    #[arg(long, value_delimiter = ',')]
    extensions: Option<Vec<String>>,
    /// Verify stored bytes by reading <DIR>/<upload id> (repeatable: staging and completed directories).
    #[arg(long, value_name = "DIR")]
    data_dir: Vec<PathBuf>,
    /// Verify stored bytes with GET on the upload URL (some servers do not support, or crash on, GET).
    #[arg(long)]
    verify_get: bool,
    /// Timeout of each request, in seconds.
    #[arg(long, default_value_t = 10.0)]
    timeout: f64,
    /// Upper bound of each scenario, in seconds.
    #[arg(long, default_value_t = 30.0)]
    scenario_timeout: f64,
    /// How long a resume may take while a stale request is open, in seconds.
    #[arg(long, default_value_t = 10.0)]
    stall_wait: f64,
    /// How long to wait for the server to close a stalled connection, in seconds.
    #[arg(long, default_value_t = 15.0)]
    server_timeout_wait: f64,
    /// Open a new connection for every request.
    #[arg(long)]
    no_keep_alive: bool,
}

fn secs(v: f64, name: &str) -> Result<Duration, String> {
    Duration::try_from_secs_f64(v).map_err(|_| format!("--{name}: {v} is not a valid number of seconds"))
}

fn main() -> ExitCode {
    let args = Args::parse();
    match real_main(&args) {
        Ok(code) => code,
        Err(e) => {
            let _ = writeln!(std::io::stderr(), "tus-conformance: {e}");
            ExitCode::from(2)
        }
    }
}

fn real_main(args: &Args) -> Result<ExitCode, String> {
    let all = scenarios::all();
    let mut out = std::io::stdout().lock();
    let url = args.url.as_deref().unwrap_or("http://127.0.0.1/files/");
    let base = Url::parse(url).map_err(|e| e.to_string())?;
    let mut config = Config::new(base);
    config.only.clone_from(&args.only);
    config.skip.clone_from(&args.skip);
    config.extensions.clone_from(&args.extensions);
    config.keep = args.keep;
    for h in &args.headers {
        config.add_header(h)?;
    }
    if args.list {
        for s in all.iter().filter(|s| config.selects(s.id)) {
            let wire = if s.wire_only() { " [wire]" } else { "" };
            let _ = writeln!(out, "{:<40} {:<16} {}{wire}  ({})", s.id, s.level.label(), s.title, s.clause);
            let _ = writeln!(out, "{:<40} > \"{}\"", "", s.quote);
        }
        return Ok(ExitCode::SUCCESS);
    }
    let timeouts = Timeouts { connect: secs(args.timeout, "timeout")?, io: secs(args.timeout, "timeout")? };
    config.settings = Settings {
        timeouts,
        budget: secs(args.scenario_timeout, "scenario-timeout")?,
        stall_wait: secs(args.stall_wait, "stall-wait")?,
        server_timeout_wait: secs(args.server_timeout_wait, "server-timeout-wait")?,
    };
    let tls = match (&args.ca_cert, args.insecure) {
        (Some(file), _) => Tls::with_ca_file(file).map_err(|e| format!("--ca-cert: {e}"))?,
        (None, true) => Tls::insecure(),
        (None, false) => Tls::webpki_roots(),
    };
    let probe: Option<Box<dyn DataProbe>> = if !args.data_dir.is_empty() {
        Some(Box::new(DirProbe { dirs: args.data_dir.clone() }))
    } else if args.verify_get {
        Some(Box::new(GetProbe { timeouts, headers: config.headers.clone(), tls: tls.clone() }))
    } else {
        None
    };
    let mut wire = WireTransport::new(timeouts, !args.no_keep_alive).with_tls(tls);
    let report =
        run(&config, &mut wire, probe.as_deref(), &all).map_err(|e| format!("cannot reach {}: {e}", config.base))?;
    if let Some(path) = &args.junit {
        std::fs::write(path, report.junit()).map_err(|e| format!("writing {}: {e}", path.display()))?;
    }
    let text = if args.json { report.json() } else { report.text(args.verbose) };
    let _ = writeln!(out, "{}", text.trim_end());
    Ok(ExitCode::from(u8::try_from(report.exit_code(args.strict)).unwrap_or(1)))
}
