//! The command line of `tussi-server`.

use std::path::PathBuf;

use clap::builder::BoolishValueParser;
use clap::parser::ValueSource;
use clap::{ArgMatches, Parser};
use tus_tokio::tus_hyper::tus_storage::InlineWrites;
use tussi_cli::size::parse_size;

/// Where uploads are kept, when not on the filesystem (`--store`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum StoreUrl {
    /// `s3://bucket/prefix`: S3 or an S3-compatible server, configured by the `AWS_*` environment variables.
    S3(String),
}

/// A `--store` value: `s3://bucket` or `s3://bucket/prefix`. Checked here, before anything starts, so that a
/// typo is a usage error (exit status 2) that names the accepted forms.
fn parse_store(value: &str) -> Result<StoreUrl, String> {
    const ACCEPTED: &str = "expected s3://BUCKET or s3://BUCKET/PREFIX (S3 or an S3-compatible server, configured by \
                            the AWS_* environment variables); leave --store out for the filesystem (--upload-dir)";
    let bucket = value.strip_prefix("s3://").map(|rest| rest.split('/').next().unwrap_or_default());
    match bucket {
        Some(bucket) if !bucket.is_empty() => Ok(StoreUrl::S3(value.to_owned())),
        Some(_) => Err(format!("no bucket in {value:?}: {ACCEPTED}")),
        None => Err(format!("unknown store {value:?}: {ACCEPTED}")),
    }
}

/// An [`InlineWrites`] mode by name; the yes/no of the flag's boolean days as `always`/`never`.
fn parse_inline_writes(value: &str) -> Result<InlineWrites, String> {
    match value.to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(InlineWrites::Always),
        "0" | "false" | "no" | "off" => Ok(InlineWrites::Never),
        name => name.parse(),
    }
}

const AFTER_HELP: &str = "\
Every option can also be set through the environment variable shown with it.

In a terminal, the server asks for the upload dir, dest dir, host and port (Enter keeps the value shown), except \
for those given as options or environment variables, and the upload dir with --store; --no-prompt (-y) asks \
nothing. Without a terminal it never asks.

With --store s3://BUCKET/PREFIX, uploads in progress are kept in the bucket (several servers may share it) and \
finished ones are still saved into the dest dir. The AWS_* environment variables configure the connection: \
AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION, and for other S3-compatible servers AWS_ENDPOINT (with \
AWS_ALLOW_HTTP=true for plain http).

Finished uploads are moved into the dest dir under the basename of their `filename` metadata (or their id), \
numbered on collisions (a.tar.gz, a_1.tar.gz, ...; nothing is ever overwritten), each with its record beside it \
as <name>.meta.

Open by default: anyone who reaches the port may upload (no authentication), of any size (no --max-size), from \
pages on any origin (CORS; --cors-origin restricts it). It listens on 127.0.0.1 unless told otherwise; binding \
another address without --max-size logs a warning.

Logs go to stderr; RUST_LOG adjusts them (default: info). Stop with Ctrl-C or SIGTERM: requests in flight are \
finished first.

Examples:
  tussi-server          # asks, then serves http://127.0.0.1:8080/files/
  tussi-server -y --port 9000 --dest-dir /srv/incoming --workers 4
  TUSSI_HOST=0.0.0.0 TUSSI_MAX_SIZE=10G tussi-server --access-log
  AWS_ENDPOINT=http://127.0.0.1:8333 AWS_ALLOW_HTTP=true tussi-server -y --store s3://uploads/tus";

/// A TUS 1.0.0 resumable-upload server: serves http://HOST:PORT/files/ and moves finished uploads into a
/// destination directory.
#[derive(Parser, Debug)]
#[command(name = "tussi-server", version, after_help = AFTER_HELP)]
pub(crate) struct ServerArgs {
    /// Address to listen on.
    #[arg(long, env = "TUSSI_HOST", default_value = "127.0.0.1")]
    pub(crate) host: String,

    /// Port to listen on (0: any free port, shown in the banner).
    #[arg(long, env = "TUSSI_PORT", default_value_t = 8080)]
    pub(crate) port: u16,

    /// Staging directory of uploads in progress (created if missing). Not used with --store.
    #[arg(long, env = "TUSSI_UPLOAD_DIR", value_name = "DIR", default_value = "./uploads")]
    pub(crate) upload_dir: PathBuf,

    /// Directory receiving finished uploads before a worker claims them; same filesystem as --upload-dir. Not used
    /// with --store. [default: <upload-dir>/.completed]
    #[arg(long, env = "TUSSI_COMPLETED_DIR", value_name = "DIR")]
    pub(crate) completed_dir: Option<PathBuf>,

    /// Keep uploads in object storage instead of the filesystem: s3://BUCKET/PREFIX (S3 or an S3-compatible
    /// server, configured by the AWS_* environment variables; see below). --upload-dir, --completed-dir,
    /// --no-fsync, --inline-reads and --inline-writes do not apply then; it serves on one thread (network-bound;
    /// TOKIO_WORKER_THREADS=N for more). [default: the filesystem]
    #[arg(long, env = "TUSSI_STORE", value_name = "URL", value_parser = parse_store)]
    pub(crate) store: Option<StoreUrl>,

    /// Where workers save finished uploads, under their file names.
    #[arg(long, env = "TUSSI_DEST_DIR", value_name = "DIR", default_value = "./dest")]
    pub(crate) dest_dir: PathBuf,

    /// Number of file workers (0: none — finished uploads stay in the completed dir, or the bucket, for another
    /// consumer).
    #[arg(long, env = "TUSSI_WORKERS", value_name = "N", default_value_t = 1)]
    pub(crate) workers: usize,

    /// Largest upload accepted, in bytes (suffixes K, M, G, T: powers of 1024); advertised as Tus-Max-Size.
    /// [default: no limit]
    #[arg(long, env = "TUSSI_MAX_SIZE", value_name = "BYTES", value_parser = parse_size)]
    pub(crate) max_size: Option<u64>,

    /// Largest body of one PATCH (or POST with data), in bytes (suffixes K, M, G, T). Bodies are streamed to
    /// disk, never held in memory, so none is needed; the original tussi had 10M. [default: no limit]
    #[arg(long, env = "TUSSI_MAX_CHUNK_SIZE", value_name = "BYTES", value_parser = parse_size)]
    pub(crate) max_chunk_size: Option<u64>,

    /// An origin whose pages may upload (CORS), as scheme://host[:port]; repeatable, the environment variable
    /// takes a comma-separated list. [default: any origin, as tusd]
    #[arg(long = "cors-origin", env = "TUSSI_CORS_ORIGINS", value_name = "ORIGIN", value_delimiter = ',')]
    pub(crate) cors_origins: Vec<String>,

    /// Let pages send cookies and HTTP authentication with uploads (Access-Control-Allow-Credentials).
    #[arg(long, env = "TUSSI_CORS_CREDENTIALS", value_parser = BoolishValueParser::new())]
    pub(crate) cors_credentials: bool,

    /// How long browsers may cache a preflight's answer, in seconds.
    #[arg(long, env = "TUSSI_CORS_MAX_AGE", value_name = "SECS", default_value_t = 86_400)]
    pub(crate) cors_max_age: u64,

    /// No CORS headers at all (for a proxy in front that adds its own).
    #[arg(long, env = "TUSSI_NO_CORS", value_parser = BoolishValueParser::new(), conflicts_with = "cors_origins")]
    pub(crate) no_cors: bool,

    /// Largest Upload-Metadata header, in bytes.
    #[arg(long, env = "TUSSI_MAX_METADATA_SIZE", value_name = "BYTES", default_value_t = 4096)]
    pub(crate) max_metadata_size: usize,

    /// A proxy (IP or CIDR block) whose X-Forwarded-Proto / Forwarded header sets the scheme of Location.
    /// Repeatable; the environment variable takes a comma-separated list.
    #[arg(long = "trusted-proxy", env = "TUSSI_TRUSTED_PROXIES", value_name = "IP|CIDR", value_delimiter = ',')]
    pub(crate) trusted_proxies: Vec<String>,

    /// Serve Prometheus metrics at http://ADDR/metrics (a listener of its own, e.g. 127.0.0.1:9100): requests,
    /// bytes, uploads created / finished / terminated / failed, storage latency. [default: off]
    #[arg(long, env = "TUSSI_METRICS", value_name = "ADDR")]
    pub(crate) metrics: Option<String>,

    /// Path of the health endpoint for load balancers: GET answers 200 when the upload directories take files
    /// (with --store: when the bucket takes a write), 503 otherwise (the cause in the log). An empty value turns it
    /// off.
    #[arg(long, env = "TUSSI_HEALTH_PATH", value_name = "PATH", default_value = "/healthz")]
    pub(crate) health_path: String,

    /// On Ctrl-C or SIGTERM, how long requests in flight may take to finish before the server exits, in seconds.
    /// Requests still running then are cut off: what they had not committed does not count, and their clients
    /// resume from the committed offset.
    #[arg(long, env = "TUSSI_SHUTDOWN_TIMEOUT", value_name = "SECS", default_value_t = 30)]
    pub(crate) shutdown_timeout: u64,

    /// Keep the partial uploads a final upload was assembled from (concatenation) until the janitor expires
    /// them, instead of removing them at once.
    #[arg(long, env = "TUSSI_KEEP_PARTIALS", value_parser = BoolishValueParser::new())]
    pub(crate) keep_partials: bool,

    /// Do not fsync data and records (faster; an upload's last chunks may be lost in a power cut).
    #[arg(long, env = "TUSSI_NO_FSYNC", value_parser = BoolishValueParser::new())]
    pub(crate) no_fsync: bool,

    /// Make changes durable with syncfs(2) of the whole filesystem, one call shared by every request waiting at
    /// that moment, instead of an fsync per file and directory: the same promises with far fewer disk flushes
    /// when many small uploads run at once. Only for a filesystem tussi-server has to itself (syncfs writes back
    /// every program's data there). Ignored with --no-fsync.
    #[arg(long, env = "TUSSI_SYNCFS", value_parser = BoolishValueParser::new())]
    pub(crate) syncfs: bool,

    /// Read upload records for HEAD on the server's own threads instead of the I/O pool: about 1.5x faster HEAD
    /// on a local disk, but a stalling disk then stalls every connection. Leave off for network filesystems.
    #[arg(long, env = "TUSSI_INLINE_READS", value_parser = BoolishValueParser::new())]
    pub(crate) inline_reads: bool,

    /// With --no-fsync, where creations and PATCHes of at most 64 KiB run. while-fast: on the server's own
    /// threads, one at a time (while one runs, others run in place with tokio's block_in_place, which first moves
    /// the thread's other connections to another thread), and all in place for 100 times as long as one took
    /// when that was over 1 ms. never: always in place. always (or the flag alone): always on the server's own
    /// threads, where a stalling disk stalls every connection of each thread it catches. Ignored with fsync on.
    #[arg(long, env = "TUSSI_INLINE_WRITES", value_name = "MODE", value_parser = parse_inline_writes,
          default_value = "while-fast", num_args = 0..=1, default_missing_value = "always")]
    pub(crate) inline_writes: InlineWrites,

    /// Log every request to stderr: method, path, status, bytes stored, upload offset, duration.
    #[arg(long, env = "TUSSI_ACCESS_LOG", value_parser = BoolishValueParser::new())]
    pub(crate) access_log: bool,

    /// Ask nothing, even in a terminal.
    #[arg(short = 'y', long, env = "TUSSI_NO_PROMPT", value_parser = BoolishValueParser::new())]
    pub(crate) no_prompt: bool,

    /// Unfinished uploads expire this long after their last write, in seconds: announced in Upload-Expires,
    /// answered 410 afterwards, and deleted by the janitor.
    #[arg(long, env = "TUSSI_STALE_UPLOAD_AGE", value_name = "SECS", default_value_t = 86_400)]
    pub(crate) stale_upload_age: u64,

    /// Delete finished uploads no worker claimed for this long, in seconds (janitor).
    #[arg(long, env = "TUSSI_COMPLETED_FILE_AGE", value_name = "SECS", default_value_t = 604_800)]
    pub(crate) completed_file_age: u64,

    /// Seconds between janitor runs (for tests).
    #[arg(long, env = "TUSSI_JANITOR_INTERVAL", value_name = "SECS", default_value_t = 3600, hide = true,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub(crate) janitor_interval: u64,
}

/// Which of the prompted settings were given on the command line or in the environment.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Given {
    pub(crate) upload_dir: bool,
    pub(crate) dest_dir: bool,
    pub(crate) host: bool,
    pub(crate) port: bool,
}

impl Given {
    /// Reads the value sources of the prompted settings from `matches`.
    pub(crate) fn from_matches(matches: &ArgMatches) -> Given {
        let given =
            |id: &str| matches!(matches.value_source(id), Some(ValueSource::CommandLine | ValueSource::EnvVariable));
        Given { upload_dir: given("upload_dir"), dest_dir: given("dest_dir"), host: given("host"), port: given("port") }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::{CommandFactory as _, FromArgMatches as _};

    #[test]
    fn command_is_valid() {
        ServerArgs::command().debug_assert();
    }

    #[test]
    fn defaults_and_given_flags() {
        let matches = ServerArgs::command()
            .try_get_matches_from([
                "tussi-server",
                "--port",
                "9000",
                "--trusted-proxy",
                "10.0.0.0/8",
                "--trusted-proxy",
                "::1",
                "--max-size",
                "1G",
            ])
            .unwrap();
        let args = ServerArgs::from_arg_matches(&matches).unwrap();
        let given = Given::from_matches(&matches);
        assert!(given.port && !given.host && !given.upload_dir && !given.dest_dir);
        assert_eq!(args.port, 9000);
        assert_eq!(args.host, "127.0.0.1");
        assert_eq!(args.upload_dir, PathBuf::from("./uploads"));
        assert_eq!(args.max_size, Some(1 << 30));
        assert_eq!(args.max_chunk_size, None);
        assert_eq!(args.trusted_proxies, ["10.0.0.0/8", "::1"]);
        assert_eq!(args.workers, 1);
        assert_eq!(args.janitor_interval, 3600);
        assert_eq!(args.inline_writes, InlineWrites::WhileFast);
        assert_eq!(args.store, None);
    }

    #[test]
    fn store_takes_s3_urls_only() {
        let parse = |value: &str| {
            let matches = ServerArgs::command().try_get_matches_from(["tussi-server", "--store", value])?;
            ServerArgs::from_arg_matches(&matches).map(|args| args.store)
        };
        assert_eq!(parse("s3://tussi/uploads/a").unwrap(), Some(StoreUrl::S3("s3://tussi/uploads/a".into())));
        assert_eq!(parse("s3://tussi").unwrap(), Some(StoreUrl::S3("s3://tussi".into())));
        for bad in ["./uploads", "S3://tussi", "gs://tussi/x", "s3://", "s3:///prefix", ""] {
            let error = parse(bad).expect_err(bad).to_string();
            assert!(error.contains("s3://BUCKET/PREFIX"), "{bad:?}: {error}");
        }
    }

    #[test]
    fn inline_writes_by_name_alone_or_as_a_boolean() {
        let parse = |extra: &[&str]| {
            let matches = ServerArgs::command().try_get_matches_from([&["tussi-server"], extra].concat())?;
            ServerArgs::from_arg_matches(&matches).map(|args| args.inline_writes)
        };
        assert_eq!(parse(&["--inline-writes", "never"]).unwrap(), InlineWrites::Never);
        assert_eq!(parse(&["--inline-writes=while-fast"]).unwrap(), InlineWrites::WhileFast);
        assert_eq!(parse(&["--inline-writes"]).unwrap(), InlineWrites::Always);
        assert_eq!(parse(&["--inline-writes", "--no-fsync"]).unwrap(), InlineWrites::Always);
        assert_eq!(parse_inline_writes("TRUE"), Ok(InlineWrites::Always));
        assert_eq!(parse_inline_writes("0"), Ok(InlineWrites::Never));
        assert!(parse(&["--inline-writes", "sometimes"]).is_err());
    }
}
