//! Interruptions: once an upload is remembered in the progress file, Ctrl-C (SIGINT), SIGTERM and a failure that a
//! later run may get past (the retries ran out) end with a hint how to resume it — the same command again, which
//! goes on from the server's offset.

use std::io::IsTerminal as _;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// The upload that a rerun would resume, while there is one.
static SAVED: Mutex<Option<Saved>> = Mutex::new(None);

struct Saved {
    progress: PathBuf,
    yes: bool,
}

/// The upload is remembered in the progress file `progress` (it was just created, or is being resumed); `yes`:
/// the command has `--yes`.
pub(crate) fn remembered(progress: &Path, yes: bool) {
    *lock() = Some(Saved { progress: progress.to_owned(), yes });
}

/// No upload to resume (any more): finished, or about to be started anew.
pub(crate) fn forgotten() {
    *lock() = None;
}

/// How to resume the remembered upload, if there is one.
pub(crate) fn hint() -> Option<String> {
    let saved = lock();
    let saved = saved.as_ref()?;
    let again = if saved.yes {
        "run the same command again"
    } else {
        "run the same command again with --yes (or answer y when it asks)"
    };
    Some(format!(
        "To resume the upload, {again} from this directory: it goes on from what the server has (the upload is \
         remembered in {}).",
        saved.progress.display()
    ))
}

fn lock() -> std::sync::MutexGuard<'static, Option<Saved>> {
    SAVED.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Watches for SIGINT and SIGTERM on a thread of its own: on either, prints that the upload was interrupted and
/// the [`hint`], and exits with 130 (SIGINT) or 143 (SIGTERM). The server keeps what it stored; the progress file
/// is only ever replaced whole. Without signal handling (it could not be set up) the signals keep their default.
pub(crate) fn watch_signals() {
    let spawned = std::thread::Builder::new().name("signals".into()).spawn(|| {
        let Ok(runtime) = tokio::runtime::Builder::new_current_thread().enable_io().build() else {
            return;
        };
        let code = runtime.block_on(async {
            use tokio::signal::unix::{signal, Signal, SignalKind};
            // A handler once installed stays: wait for each signal that could be set up.
            async fn received(signal: Option<Signal>) {
                match signal {
                    Some(mut signal) => _ = signal.recv().await,
                    None => std::future::pending().await,
                }
            }
            let interrupt = signal(SignalKind::interrupt()).ok();
            let terminate = signal(SignalKind::terminate()).ok();
            if interrupt.is_none() && terminate.is_none() {
                return None;
            }
            tokio::select! {
                () = received(interrupt) => Some(130),
                () = received(terminate) => Some(143),
            }
        });
        let Some(code) = code else {
            return;
        };
        if std::io::stdout().is_terminal() {
            eprintln!(); // below the progress bar
        }
        match hint() {
            Some(hint) => eprintln!("tussi-upload: interrupted.\n{hint}"),
            None => eprintln!("tussi-upload: interrupted."),
        }
        std::process::exit(code);
    });
    if let Err(e) = spawned {
        eprintln!("tussi-upload: cannot watch for Ctrl-C ({e}); an interrupted upload is resumed by the same command");
    }
}
