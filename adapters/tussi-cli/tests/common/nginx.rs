//! Debian's nginx as a foreground child of a test, configured by one of the documented files in `docs/`, with
//! every file it writes under the test's directory (so it needs no root paths and no service manager).

use std::fs::File;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The nginx binary: `nginx` on the PATH, else Debian's `/usr/sbin/nginx` (not on every user's PATH). Without it
/// the test fails rather than passes unchecked.
pub fn binary() -> PathBuf {
    let on_path = std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .map(|dir| dir.join("nginx"))
        .find(|candidate| candidate.is_file());
    on_path.or_else(|| Some(PathBuf::from("/usr/sbin/nginx")).filter(|p| p.is_file())).unwrap_or_else(|| {
        panic!(
            "nginx is not installed: this test runs tussi-server behind nginx configured by a file of docs/. \
             Install it (`apt-get install nginx`; .ci/run does) and run the test again."
        )
    })
}

/// Replaces the one occurrence of `from` in the documented configuration `text`; a doc that no longer has it
/// exactly once breaks the test loudly instead of testing something else.
pub fn replace_once(text: &str, from: &str, to: &str) -> String {
    let count = text.matches(from).count();
    assert_eq!(count, 1, "the documented nginx configuration should contain {from:?} exactly once, found {count}");
    text.replacen(from, to, 1)
}

/// `conf` with test-only lines right inside `http {` that keep every file nginx writes under `dir` (Debian's build
/// defaults to /var/log/nginx and /var/lib/nginx); with `log_format`, the access log is written in that format.
pub fn keep_files_in(conf: &str, dir: &Path, log_format: Option<&str>) -> String {
    let d = dir.display();
    let (format, access_log) = match log_format {
        Some(format) => (format!("    log_format test '{format}';\n"), format!("access_log \"{d}/access.log\" test;")),
        None => (String::new(), format!("access_log \"{d}/access.log\";")),
    };
    let test_only = format!(
        "http {{\n    # test-only: every file nginx writes stays in the test's directory.\n{format}    {access_log}\n    \
         client_body_temp_path \"{d}/client_body_temp\";\n    proxy_temp_path \"{d}/proxy_temp\";\n    \
         fastcgi_temp_path \"{d}/fastcgi_temp\";\n    uwsgi_temp_path \"{d}/uwsgi_temp\";\n    \
         scgi_temp_path \"{d}/scgi_temp\";\n"
    );
    replace_once(conf, "\nhttp {\n", &format!("\n{test_only}"))
}

/// A running nginx, stopped by its PID (SIGTERM, then SIGKILL) when dropped.
pub struct Nginx {
    child: Child,
    /// `127.0.0.1:PORT`, where it listens.
    pub authority: String,
    dir: PathBuf,
}

impl Nginx {
    /// Starts nginx with its files under `dir` and the configuration `config` makes for the address it is to
    /// listen on. A free port is picked by binding port 0 and releasing it; if another process takes it in
    /// between, nginx fails to bind and is started again on another one.
    pub fn start(dir: &Path, config: impl Fn(&str) -> String) -> Nginx {
        std::fs::create_dir_all(dir).unwrap();
        let nginx = binary();
        for _attempt in 0..5 {
            let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
            let authority = format!("127.0.0.1:{port}");
            let conf = dir.join("nginx.conf");
            std::fs::write(&conf, config(&authority)).unwrap();
            let child = Command::new(&nginx)
                .arg("-g")
                .arg(format!(
                    "daemon off; pid \"{}\"; error_log \"{}\";",
                    dir.join("nginx.pid").display(),
                    dir.join("error.log").display()
                ))
                .arg("-p")
                .arg(dir)
                .arg("-c")
                .arg(&conf)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(File::create(dir.join("stderr.log")).unwrap())
                .spawn()
                .unwrap_or_else(|e| panic!("start {}: {e}", nginx.display()));
            let mut nginx = Nginx { child, authority, dir: dir.to_owned() };
            let deadline = Instant::now() + Duration::from_secs(10);
            loop {
                if TcpStream::connect(&nginx.authority).is_ok() {
                    eprintln!("[nginx] listening on {}", nginx.authority);
                    return nginx;
                }
                if let Ok(Some(status)) = nginx.child.try_wait() {
                    let logs = nginx.logs();
                    if logs.contains("Address already in use") {
                        break; // Someone took the port: another one.
                    }
                    panic!("nginx exited ({status}) instead of serving:\n{logs}");
                }
                assert!(Instant::now() < deadline, "nginx did not listen within 10 s:\n{}", nginx.logs());
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        panic!("nginx found no free port in 5 attempts");
    }

    /// A file nginx wrote in its directory (`access.log`, `error.log`, `stderr.log`); empty if there is none.
    pub fn read(&self, name: &str) -> String {
        std::fs::read_to_string(self.dir.join(name)).unwrap_or_default()
    }

    /// What nginx said on stderr and in its error log.
    pub fn logs(&self) -> String {
        format!("stderr:\n{}error.log:\n{}", self.read("stderr.log"), self.read("error.log"))
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        super::stop(&mut self.child, Duration::from_secs(5));
        if std::thread::panicking() {
            eprintln!("[nginx] {}", self.logs());
        }
    }
}
