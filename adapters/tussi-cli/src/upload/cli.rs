//! The command line of `tussi-upload`.

use std::path::PathBuf;

use clap::builder::BoolishValueParser;
use clap::Parser;
use tussi_cli::size::parse_size;

const AFTER_HELP: &str = "\
Every option can also be set through the environment variable shown with it.

Resuming: the upload URL is saved in the progress file together with the endpoint and the identity of the data \
(for a file: its absolute path, size and modification time; for generated data: its size and seed). A rerun with \
the same progress file resumes only an upload of the same, unchanged data on the same endpoint: it asks first \
(y/N), or resumes at once with --yes. Without a terminal on stdin it resumes only with --yes. Anything else starts \
a new upload. The progress file is deleted when the upload is complete.

Errors: connection failures, 5xx, 423 and 429 answers are retried with exponential backoff (0.5 s, 1 s, 2 s, ... \
up to 30 s; --retries in a row at most), re-reading the server's offset (HEAD) before going on; a 409 (offset \
mismatch) is recovered by HEAD.

Exit status:
  0  the upload is complete
  1  the upload failed (server unreachable or refusing, data unreadable)
  2  usage error (bad options, unreadable --file, invalid URL or metadata)

Examples:
  tussi-upload --file backup.tar.gz
  tussi-upload --url http://10.0.0.5:8080/files/ --file big.iso --yes
  tussi-upload --file big.iso --chunk-size 8M --metadata owner=ana
  tussi-upload --size 100M        # 100 MiB of generated test data";

/// Uploads a file (or generated test data) to a TUS 1.0.0 server, resumably.
#[derive(Parser, Debug)]
#[command(name = "tussi-upload", version, after_help = AFTER_HELP)]
pub(crate) struct UploadArgs {
    /// The server's creation URL.
    #[arg(long, env = "TUSSI_URL", default_value = "http://127.0.0.1:8080/files/")]
    pub(crate) url: String,

    /// The file to upload.
    #[arg(long, env = "TUSSI_FILE", value_name = "PATH", conflicts_with = "size")]
    pub(crate) file: Option<PathBuf>,

    /// Upload this many bytes of generated pseudo-random data instead of a file (suffixes K, M, G, T).
    /// [default: 1M when no --file]
    #[arg(long, env = "TUSSI_SIZE", value_name = "BYTES", value_parser = parse_size)]
    pub(crate) size: Option<u64>,

    /// Seed of the generated data (default: random; a resumed upload keeps its saved seed).
    #[arg(long, env = "TUSSI_SEED", value_name = "N", conflicts_with = "file")]
    pub(crate) seed: Option<u64>,

    /// Bytes per PATCH request (suffixes K, M, G, T). One chunk is held in memory.
    #[arg(long, env = "TUSSI_CHUNK_SIZE", value_name = "BYTES", value_parser = parse_chunk_size, default_value = "262144")]
    pub(crate) chunk_size: u64,

    /// The progress file that makes the upload resumable.
    #[arg(long, env = "TUSSI_PROGRESS", value_name = "PATH", default_value = "tus-progress.txt")]
    pub(crate) progress: PathBuf,

    /// Extra metadata, KEY=VALUE (or KEY alone for an empty value); repeatable. `filename` is always the file's name.
    #[arg(long = "metadata", env = "TUSSI_METADATA", value_name = "KEY=VALUE", value_parser = parse_metadata)]
    pub(crate) metadata: Vec<(String, String)>,

    /// Resume a saved upload of the same data without asking.
    #[arg(short = 'y', long, env = "TUSSI_YES", value_parser = BoolishValueParser::new())]
    pub(crate) yes: bool,

    /// Retries in a row before giving up on connection errors, 5xx, 423 and 429.
    #[arg(long, env = "TUSSI_RETRIES", value_name = "N", default_value_t = 5)]
    pub(crate) retries: u32,

    /// Send at most this many bytes per second (for tests and demos).
    #[arg(long, env = "TUSSI_THROTTLE", value_name = "BYTES", value_parser = parse_size, hide = true)]
    pub(crate) throttle: Option<u64>,
}

fn parse_chunk_size(text: &str) -> Result<u64, String> {
    match parse_size(text)? {
        0 => Err("the chunk size must be at least 1 byte".into()),
        n if n > 1 << 30 => Err("the chunk size must be at most 1 GiB (it is held in memory)".into()),
        n => Ok(n),
    }
}

/// `KEY=VALUE` or `KEY`: a TUS metadata key is non-empty ASCII without spaces or commas.
fn parse_metadata(text: &str) -> Result<(String, String), String> {
    let (key, value) = text.split_once('=').unwrap_or((text, ""));
    if key.is_empty() || !key.bytes().all(|b| b.is_ascii_graphic() && b != b',') {
        return Err(format!("{key:?} is not a metadata key (printable ASCII without spaces or commas)"));
    }
    if key == "filename" {
        return Err("filename is always the uploaded file's name".into());
    }
    Ok((key.to_owned(), value.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory as _;

    #[test]
    fn command_is_valid() {
        UploadArgs::command().debug_assert();
    }

    #[test]
    fn parsing() {
        let args =
            UploadArgs::try_parse_from(["tussi-upload", "--metadata", "a=1", "--metadata", "b", "--chunk-size", "64k"])
                .unwrap();
        assert_eq!(args.metadata, [("a".into(), "1".into()), ("b".into(), String::new())]);
        assert_eq!(args.chunk_size, 65536);
        assert_eq!(args.url, "http://127.0.0.1:8080/files/");
        assert_eq!(args.retries, 5);
        assert!(UploadArgs::try_parse_from(["tussi-upload", "--file", "x", "--size", "1"]).is_err());
        assert!(UploadArgs::try_parse_from(["tussi-upload", "--metadata", "filename=x"]).is_err());
        assert!(UploadArgs::try_parse_from(["tussi-upload", "--metadata", "a b=x"]).is_err());
        assert!(UploadArgs::try_parse_from(["tussi-upload", "--chunk-size", "0"]).is_err());
    }
}
