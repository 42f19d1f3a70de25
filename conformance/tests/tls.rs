//! https through rustls: tussi's own server behind TLS (tokio-rustls, a certificate for 127.0.0.1 issued by a CA
//! made in the test with rcgen) passes the whole suite when the suite trusts that CA; with another CA, or with
//! the default (Mozilla) roots, the run stops at once with an error that says what is wrong and what to do; with
//! `--insecure` it runs and the report says in capitals that nothing was verified.

mod tussi;

use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;

use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair, KeyUsagePurpose};
use tokio_rustls::rustls;
use tus_conformance::{run, scenarios, ClientError, Config, Report, Timeouts, Tls, Url, Verdict, WireTransport};
use tussi::{Server, TlsConfig};

/// A CA made for one test: its certificate (PEM) and the issuer that signs with it.
struct Ca {
    pem: String,
    issuer: CertifiedIssuer<'static, KeyPair>,
}

fn ca(name: &str) -> Ca {
    let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA parameters");
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    params.distinguished_name.push(DnType::CommonName, name);
    let issuer = CertifiedIssuer::self_signed(params, KeyPair::generate().expect("CA key")).expect("CA certificate");
    Ca { pem: issuer.pem(), issuer }
}

/// The TLS configuration of a server whose certificate, for 127.0.0.1 and localhost, `ca` issued.
fn server_tls(ca: &Ca) -> TlsConfig {
    let key = KeyPair::generate().expect("server key");
    let params = CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()]).expect("params");
    let cert = params.signed_by(&key, &ca.issuer).expect("server certificate");
    let key = rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into());
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .expect("protocol versions")
        .with_no_client_auth()
        .with_single_cert(vec![cert.der().clone()], key)
        .expect("server certificate and key");
    Arc::new(config)
}

fn suite(server: &Server, tls: Tls) -> Result<Report, ClientError> {
    let config = Config::new(Url::parse(&server.url).expect("url"));
    let mut wire = WireTransport::new(Timeouts::default(), true).with_tls(tls);
    run(&config, &mut wire, Some(&server.probe()), &scenarios::all())
}

fn not_green(report: &Report) -> Vec<String> {
    report
        .results
        .iter()
        .filter(|r| matches!(r.verdict, Verdict::Fail | Verdict::Warn | Verdict::Error))
        .map(|r| format!("{} {:?}: {}", r.id, r.verdict, r.detail))
        .collect()
}

#[test]
fn tussi_behind_tls_passes_the_whole_suite_with_its_ca() {
    let ca = ca("tus-conformance test CA");
    let server = Server::start_tls(server_tls(&ca));
    assert!(server.url.starts_with("https://127.0.0.1:"), "{}", server.url);
    let tls = Tls::with_ca_pem(ca.pem.as_bytes(), "the test CA").expect("CA");
    let report = suite(&server, tls).expect("the suite ran over TLS");
    println!("{}", report.table());
    let bad = not_green(&report);
    assert!(bad.is_empty(), "not green over TLS:\n{}", bad.join("\n"));
    // The wire-only scenarios ran over TLS too: stalls, concurrent PATCHes, trailers, cut-off bodies.
    for id in
        ["fault-stale-resume", "fault-concurrent-patch", "checksum-trailer-mismatch-460", "fault-disconnect-resume"]
    {
        assert_eq!(report.verdict(id), Some(Verdict::Pass), "{id}");
    }
    let tls = report.tls.as_ref().expect("the report says how TLS was checked");
    assert!(tls.verified && tls.used, "{tls:?}");
    assert!(report.table().contains("TLS: server certificates checked against the CA certificates of the test CA"));
    assert!(report.cleanup.removed > 0 && report.cleanup.failed == 0, "{:?}", report.cleanup);
}

#[test]
fn a_certificate_from_another_ca_stops_the_run_with_a_clear_error() {
    let server = Server::start_tls(server_tls(&ca("the server's CA")));
    let other = Tls::with_ca_pem(ca("another CA").pem.as_bytes(), "other.pem").expect("CA");
    for (what, tls) in [("another CA", other), ("the Mozilla roots", Tls::webpki_roots())] {
        let error = suite(&server, tls).expect_err("a certificate that is not trusted");
        let text = error.to_string();
        assert!(matches!(error, ClientError::Tls(_)), "{what}: {error:?}");
        assert!(text.contains("certificate is not issued by a trusted CA"), "{what}: {text}");
        assert!(text.contains("--ca-cert") && text.contains("--insecure"), "{what}: {text}");
    }
}

#[test]
fn https_to_a_plain_http_port_says_so() {
    let server = Server::start(tussi::Flaw::None);
    let https = server.url.replace("http://", "https://");
    let config = Config::new(Url::parse(&https).expect("url"));
    let mut wire = WireTransport::new(Timeouts::default(), true);
    let error = run(&config, &mut wire, None, &scenarios::all()).expect_err("not TLS");
    assert!(matches!(error, ClientError::Tls(_)), "{error:?}");
    assert!(error.to_string().contains("plain-HTTP port"), "{error}");
}

#[test]
fn http_to_a_tls_port_says_so() {
    let server = Server::start_tls(server_tls(&ca("a CA")));
    let http = server.url.replace("https://", "http://");
    let config = Config::new(Url::parse(&http).expect("url"));
    let mut wire = WireTransport::new(Timeouts::default(), true);
    let error = run(&config, &mut wire, None, &scenarios::all()).expect_err("TLS port");
    assert!(error.to_string().contains("this port speaks https, the URL says http://"), "{error}");
}

/// A file in the temporary directory, removed when dropped.
struct TempFile(PathBuf);

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

#[test]
fn command_line_ca_cert_insecure_and_untrusted() {
    let ca = ca("tus-conformance CLI test CA");
    let server = Server::start_tls(server_tls(&ca));
    let file = TempFile(std::env::temp_dir().join(format!("tus-conformance-ca-{}.pem", std::process::id())));
    std::fs::write(&file.0, &ca.pem).expect("write the CA");
    let ca_file = file.0.to_str().expect("UTF-8 path");
    let cli = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_tus-conformance"))
            .arg(&server.url)
            .args(["--only", "core-*", "--only", "termination-*"])
            .args(args)
            .output()
            .expect("run the CLI");
        let text = |b: &[u8]| String::from_utf8_lossy(b).to_string();
        (out.status.code(), text(&out.stdout), text(&out.stderr))
    };

    let (code, out, err) = cli(&["--ca-cert", ca_file]);
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(
        out.contains(&format!("TLS: server certificates checked against the CA certificates of {ca_file}")),
        "{out}"
    );
    assert!(!out.contains("WARNING"), "{out}");

    let (code, out, err) = cli(&["--insecure"]);
    assert_eq!(code, Some(0), "{out}{err}");
    assert_eq!(out.matches("WARNING: TLS SERVER CERTIFICATES WERE NOT VERIFIED (--insecure)").count(), 2, "{out}");
    let (code, json, err) = cli(&["--insecure", "--json"]);
    assert_eq!(code, Some(0), "{json}{err}");
    let json: serde_json::Value = serde_json::from_str(&json).expect("JSON");
    assert_eq!((json["tls"]["verified"].as_bool(), json["tls"]["used"].as_bool()), (Some(false), Some(true)));

    // Without the CA: the Mozilla roots do not know it. Exit 2, and the reason on stderr.
    let (code, out, err) = cli(&[]);
    assert_eq!(code, Some(2), "{out}{err}");
    assert!(err.contains("TLS: the server's certificate is not issued by a trusted CA"), "{err}");
    assert!(err.contains("--ca-cert FILE trusts a private CA"), "{err}");

    let (code, _, err) = cli(&["--ca-cert", "/nonexistent/ca.pem"]);
    assert_eq!(code, Some(2));
    assert!(err.contains("--ca-cert: cannot read /nonexistent/ca.pem"), "{err}");
    let (code, _, err) = cli(&["--ca-cert", ca_file, "--insecure"]);
    assert_eq!(code, Some(2), "--ca-cert and --insecure contradict each other: {err}");
}
