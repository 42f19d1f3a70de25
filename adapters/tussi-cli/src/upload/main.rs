//! `tussi-upload`: uploads a file (or generated test data) to a TUS 1.0.0 server, resumably. See
//! `tussi-upload --help`, and the modules: [`cli`] (options), [`client`] (HTTP and TLS), [`transfer`] (requests
//! with retries), [`progress`] (display), [`interrupt`] (Ctrl-C, and how to resume). The progress file and the
//! identity check are `tussi_cli::state`.

#![forbid(unsafe_code)]

mod cli;
mod client;
mod interrupt;
mod progress;
mod transfer;

use std::io::{BufRead as _, IsTerminal as _, Write as _};
use std::process::ExitCode;

use clap::Parser as _;
use tussi_cli::size::human_bytes;
use tussi_cli::source::{random_seed, Source};
use tussi_cli::state::{Identity, ProgressState};

use crate::cli::UploadArgs;
use crate::client::{https_unavailable, resolve_location, Client};
use crate::progress::Progress;
use crate::transfer::{Failed, Plan, Retry};

/// Default size of generated data.
const DEFAULT_SIZE: u64 = 1 << 20;

/// How the program ends.
enum Exit {
    /// Exit status 1; with the hint how to resume when `resumable`.
    Failed {
        /// What failed.
        why: String,
        /// Whether the same command later may get further.
        resumable: bool,
    },
    /// Exit status 2.
    Usage(String),
}

impl From<Failed> for Exit {
    fn from(failed: Failed) -> Exit {
        Exit::Failed { why: failed.why, resumable: failed.resumable }
    }
}

fn main() -> ExitCode {
    let args = UploadArgs::parse();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Exit::Failed { why, resumable }) => {
            eprintln!("tussi-upload: error: {why}");
            if let Some(hint) = interrupt::hint().filter(|_| resumable) {
                eprintln!("{hint}");
            }
            ExitCode::from(1)
        }
        Err(Exit::Usage(why)) => {
            eprintln!("tussi-upload: error: {why}\n(see tussi-upload --help)");
            ExitCode::from(2)
        }
    }
}

fn run(args: &UploadArgs) -> Result<(), Exit> {
    if !(args.url.starts_with("http://") || args.url.starts_with("https://")) {
        return Err(Exit::Usage(format!("--url {:?} is not an http:// or https:// URL", args.url)));
    }
    if let Some(why) = https_unavailable().filter(|_| args.url.starts_with("https://")) {
        return Err(Exit::Usage(format!("--url {}: {why}", args.url)));
    }
    let client = Client::new(&args.headers, args.ca_cert.as_deref()).map_err(Exit::Usage)?;
    interrupt::watch_signals();
    let saved = match ProgressState::load(&args.progress) {
        Ok(saved) => saved,
        Err(e) => {
            eprintln!("Ignoring the progress file {}: {e}", args.progress.display());
            None
        }
    };
    let source = open_source(args, saved.as_ref())?;
    let name = source.name();
    let size = source.size();
    let mut retry = Retry::new(args.retries);

    let mut resumed = None;
    if let Some(state) = saved.as_ref() {
        if resume_wanted(args, state, &source) {
            interrupt::remembered(&args.progress, args.yes);
            match transfer::offset(&client, &state.upload_url, &mut retry, None)? {
                Some((_, Some(length))) if length != size => {
                    eprintln!("The saved upload has a length of {length} bytes, not {size}; starting a new upload.");
                }
                Some((offset, _)) => resumed = Some((state.upload_url.clone(), offset)),
                None => {
                    eprintln!("The saved upload {} is gone from the server; starting a new upload.", state.upload_url)
                }
            }
        }
    }
    if resumed.is_none() {
        interrupt::forgotten();
    }
    let (url, offset) = match resumed {
        Some((url, offset)) => {
            println!("Resuming {name} at offset {offset} of {size} bytes ({url})");
            (url, offset)
        }
        None => {
            let mut metadata = vec![("filename".to_owned(), name.clone())];
            metadata.extend(args.metadata.iter().cloned());
            let location = transfer::create(&client, &args.url, size, &metadata, &mut retry)?;
            let url = resolve_location(&args.url, &location);
            ProgressState::new(&args.url, &url, &name, source.identity()).save(&args.progress).map_err(|e| {
                let why = format!("cannot write the progress file {}: {e}", args.progress.display());
                Exit::Failed { why, resumable: false }
            })?;
            interrupt::remembered(&args.progress, args.yes);
            println!("Upload started for {name} ({}) at {url}", human_bytes(size));
            (url, 0)
        }
    };

    let mut progress = Progress::new(&name, size, offset, std::io::stdout().is_terminal());
    let plan = Plan { url: &url, chunk_size: args.chunk_size, throttle: args.throttle };
    let result = transfer::send(&client, &source, &plan, offset, &mut retry, &mut progress);
    progress.finish(if result.is_ok() { size } else { offset });
    result?;
    interrupt::forgotten();
    if let Err(e) = ProgressState::remove(&args.progress) {
        eprintln!("Could not remove the progress file {}: {e}", args.progress.display());
    }
    println!("Upload complete: {name} ({size} bytes) at {url}");
    Ok(())
}

/// The data to upload: `--file`, or generated data (`--size`, by default 1 MiB; its seed from `--seed`, else from
/// a saved upload of generated data of that size, else random).
fn open_source(args: &UploadArgs, saved: Option<&ProgressState>) -> Result<Source, Exit> {
    if let Some(path) = &args.file {
        return Source::open_file(path).map_err(|e| Exit::Usage(format!("cannot read --file {}: {e}", path.display())));
    }
    let size = args.size.unwrap_or(DEFAULT_SIZE);
    let saved_seed = saved.and_then(|state| match state.identity {
        Identity::Generated { size: saved_size, seed } if saved_size == size && state.endpoint == args.url => {
            Some(seed)
        }
        _ => None,
    });
    Ok(Source::generated(size, args.seed.or(saved_seed).unwrap_or_else(random_seed)))
}

/// Whether to resume `state`: only an upload of the same data on the same endpoint, and only with `--yes` or the
/// user's "y" on a terminal.
fn resume_wanted(args: &UploadArgs, state: &ProgressState, source: &Source) -> bool {
    let progress = args.progress.display();
    if let Err(mismatch) = state.belongs_to(&args.url, &source.identity()) {
        eprintln!("Not resuming the upload saved in {progress}: {mismatch}; starting a new upload.");
        return false;
    }
    if args.yes {
        return true;
    }
    if !std::io::stdin().is_terminal() {
        eprintln!("Not resuming the upload saved in {progress} without --yes (stdin is not a terminal); starting a new upload.");
        return false;
    }
    let answer = ask(&format!("Resume the upload of {} at {}? [y/N] ", state.name, state.upload_url));
    if !answer {
        eprintln!("Starting a new upload.");
    }
    answer
}

/// Asks a yes/no question on the terminal; anything but y/yes is no.
fn ask(question: &str) -> bool {
    eprint!("{question}");
    let _ = std::io::stderr().flush();
    let mut line = String::new();
    if std::io::stdin().lock().read_line(&mut line).is_err() {
        return false;
    }
    matches!(line.trim().to_ascii_lowercase().as_str(), "y" | "yes")
}
