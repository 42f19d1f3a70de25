//! A conformance suite for TUS resumable-upload servers: scenarios checked against the tus 1.0.0 protocol text,
//! run over the wire against any URL (or, through the [`Transport`] trait, in memory).
//!
//! **What it never does:** it never calls a server wrong where the specification leaves it free (a SHOULD that is
//! not followed is a warning, behaviour left open is reported as information), it never follows redirects, and it
//! never sends traffic anywhere but the URL it is given (and the `Location`s that server returns). It uses no HTTP
//! library: its own raw client ([`client`]) can send malformed requests, chunked and slow bodies, and bodies cut
//! off mid-way, over plain TCP or over TLS (rustls) for `https://` URLs, whose certificates it checks ([`Tls`]:
//! the Mozilla roots by default, a private CA, or, loudly reported, not at all).
//!
//! **For servers of third parties:** headers given in [`Config::headers`] (credentials) go with every request;
//! upload URLs are used exactly as the server's `Location` gives them, query included; after the run the uploads
//! it created are deleted when the server offers termination (unless [`Config::keep`]); the [`Report`] carries
//! the suite version, a timestamp, how many MUSTs were exercised ([`Coverage`]), what became of the uploads
//! ([`Cleanup`]), and the requests and responses of every scenario that did not pass ([`Exchange`]).
//!
//! Scenarios are data ([`Scenario`]): a stable id, the clause checked and the sentence of the tus 1.0.0 text it
//! tests, quoted word for word ([`Scenario::quote`], in every report), a [`Level`], the extensions needed, and
//! steps with expectations. Extensions are detected through OPTIONS `Tus-Extension`; a scenario needing an
//! extension the server does not offer is "not applicable". Scenarios whose verdict depends on timing
//! ([`Scenario::timing`]: stalls, concurrent connections, a server committing in the background) wait for
//! settled state rather than fixed pauses, and one that does not pass is run a second time, which the report says
//! ([`ScenarioResult::retried`]): a busy machine does not turn a run red by itself.
//!
//! **In your own `cargo test`:** `examples/in_your_tests.rs` is a test file to copy. It runs the suite against a
//! URL (a server the test starts, or one already running), and against an HTTP service in memory through a
//! [`Transport`] of a few dozen lines that hands each request to the service (a `hyper`/`tower` service; here
//! tussi's).
//!
//! ```no_run
//! use tus_conformance::{run, scenarios, Config, Timeouts, Url, WireTransport};
//!
//! let mut config = Config::new(Url::parse("https://tus.example.org/files/")?);
//! config.add_header("Authorization: Bearer my-token")?; // sent with every request of the run
//! // Certificates are checked against the Mozilla roots; a private CA: `.with_tls(Tls::with_ca_file(path)?)`.
//! let mut wire = WireTransport::new(Timeouts::default(), true);
//! let report = run(&config, &mut wire, None, &scenarios::all())?;
//! print!("{}", report.text(true)); // with the exchanges of the scenarios that did not pass
//! // The uploads the run created were deleted (the server offers termination, `config.keep` is false).
//! println!("{} of {} uploads deleted", report.cleanup.removed, report.cleanup.created);
//! std::process::exit(report.exit_code(false)); // 0, 1 (a FAIL) or 3 (the core MUSTs not exercised)
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Without a server at hand, the raw client and the report still work:
//!
//! ```
//! use tus_conformance::{RawRequest, Url};
//!
//! let base = Url::parse("http://127.0.0.1:8080/files/").unwrap();
//! let upload = base.join("/files/abc").unwrap();
//! assert_eq!(upload.to_string(), "http://127.0.0.1:8080/files/abc");
//! let req = RawRequest::new("PATCH", &upload.target)
//!     .header("Upload-Offset", "0")
//!     .header("Upload-Offset", "3") // duplicates are sent as they are
//!     .body(b"hello".to_vec());
//! let head = String::from_utf8(req.head_bytes()).unwrap();
//! assert!(head.starts_with("PATCH /files/abc HTTP/1.1\r\n"));
//! assert!(head.contains("Upload-Offset: 0\r\nUpload-Offset: 3\r\nContent-Length: 5\r\n\r\n"));
//! assert!(tus_conformance::scenarios::all().iter().any(|s| s.id == "core-head-cache-control"));
//! ```
#![forbid(unsafe_code)]

mod check;
pub mod client;
mod context;
pub mod headers;
pub mod memory;
mod probe;
mod report;
mod runner;
mod scenario;
pub mod scenarios;
mod tls;
mod transport;
mod url;

pub use client::{AfterCut, ClientError, Connection, Delivery, Framing, RawRequest, Response, Timeouts};
pub use context::{ServerInfo, Settings};
pub use probe::{DataProbe, DirProbe, GetProbe};
pub use report::{Cleanup, Counts, Coverage, Exchange, Report, ScenarioResult, Verdict};
pub use runner::{run, Config};
pub use scenario::{Level, Scenario};
pub use tls::Tls;
pub use transport::{TlsUse, Transport, WireTransport};
pub use url::{Url, UrlError};
