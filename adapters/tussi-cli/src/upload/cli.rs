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

Errors: connection failures, 5xx, 408, 423 and 429 answers are retried with exponential backoff (0.5 s, 1 s, 2 s, \
... up to 30 s; --retries in a row at most), re-reading the server's offset (HEAD) before going on; a 409 (offset \
mismatch) is recovered by HEAD. What waiting cannot mend fails at once: any other 4xx answer (401 or 403: \
credentials missing or refused, see --header), a TLS failure (a certificate that is not trusted, a plain-HTTP \
server behind an https:// URL), an answer that is not TUS. When a started upload is interrupted (Ctrl-C, SIGTERM, \
or the server still unreachable after the retries), tussi-upload says how to resume it: the same command again.

HTTPS: https:// URLs are verified against the built-in Mozilla (webpki) root certificates; --ca-cert FILE trusts \
the CA certificates of a PEM file instead (a server whose certificate comes from a private CA).

Exit status:
  0  the upload is complete
  1  the upload failed (server unreachable or refusing, data unreadable)
  2  usage error (bad options, unreadable --file or --ca-cert, invalid URL, metadata or header)
  130, 143  interrupted by Ctrl-C (SIGINT), SIGTERM

Examples:
  tussi-upload --file backup.tar.gz
  tussi-upload --url http://10.0.0.5:8080/files/ --file big.iso --yes
  tussi-upload --file big.iso --chunk-size 8M --metadata owner=ana
  tussi-upload --size 100M        # 100 MiB of generated test data
  tussi-upload --url https://up.example.com/files/ -H 'Authorization: Bearer TOKEN' --file a.iso
  TUSSI_HEADER='Authorization: Bearer TOKEN' tussi-upload --file a.iso   # token not in `ps`";

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

    /// Retries in a row before giving up on connection errors, 5xx, 408, 423 and 429.
    #[arg(long, env = "TUSSI_RETRIES", value_name = "N", default_value_t = 5)]
    pub(crate) retries: u32,

    /// Send this header with every request (POST, HEAD, PATCH), e.g. 'Authorization: Bearer TOKEN'; repeatable.
    /// TUSSI_HEADER holds one header. Refused: the headers tussi-upload sets itself (Tus-Resumable, Upload-*,
    /// Content-Type, Content-Length, Transfer-Encoding, Host).
    #[arg(
        short = 'H',
        long = "header",
        env = "TUSSI_HEADER",
        hide_env_values = true,
        value_name = "NAME: VALUE",
        value_parser = parse_header
    )]
    pub(crate) headers: Vec<(String, String)>,

    /// Trust the CA certificates in this PEM file instead of the built-in root certificates (an https:// server
    /// whose certificate comes from a private CA).
    #[arg(long, env = "TUSSI_CA_CERT", value_name = "PEM")]
    pub(crate) ca_cert: Option<PathBuf>,

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

/// Headers that tussi-upload sets itself, or that the HTTP client derives from the URL and the body: a value from
/// `--header` would contradict them. `Upload-*` is refused too.
const OWN_HEADERS: [&str; 5] = ["tus-resumable", "content-type", "content-length", "transfer-encoding", "host"];

/// `Name: value`: the name an HTTP token, the value without control characters (surrounding blanks trimmed).
fn parse_header(text: &str) -> Result<(String, String), String> {
    let Some((name, value)) = text.split_once(':') else {
        return Err(format!("{text:?} is not a header: expected 'NAME: VALUE'"));
    };
    let (name, value) = (name.trim(), value.trim());
    let token = |b: u8| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b);
    if name.is_empty() || !name.bytes().all(token) {
        return Err(format!("{name:?} is not a header name (letters, digits and !#$%&'*+-.^_`|~)"));
    }
    if value.chars().any(|c| c.is_control() && c != '\t') {
        return Err(format!("the value of the header {name} has control characters"));
    }
    let lower = name.to_ascii_lowercase();
    if OWN_HEADERS.contains(&lower.as_str()) || lower.starts_with("upload-") {
        return Err(format!("tussi-upload sets the header {name} itself"));
    }
    Ok((name.to_owned(), value.to_owned()))
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

    #[test]
    fn headers() {
        let args = UploadArgs::try_parse_from([
            "tussi-upload",
            "-H",
            "Authorization: Bearer abc def",
            "--header",
            "X-Trace:1",
            "--header",
            "X-Empty:",
        ])
        .unwrap();
        let expected = [("Authorization", "Bearer abc def"), ("X-Trace", "1"), ("X-Empty", "")];
        assert_eq!(args.headers, expected.map(|(n, v)| (n.to_owned(), v.to_owned())));
        for bad in ["no colon", ": value", "Bad Name: x", "X-A: a\rb", "X-A: a\nB: c", "X-\u{e9}: x"] {
            assert!(parse_header(bad).is_err(), "{bad:?}");
        }
        for own in ["Tus-Resumable: 1.0.0", "upload-offset: 0", "Upload-Metadata: a", "content-type: x", "HOST: h"] {
            let error = parse_header(own).unwrap_err();
            assert!(error.contains("sets the header"), "{own:?}: {error}");
        }
    }
}
