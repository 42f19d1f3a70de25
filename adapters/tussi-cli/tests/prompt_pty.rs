//! tussi-server in a real terminal (a pseudo-terminal from the rexpect crate: no system package needed): it asks
//! for the upload dir, dest dir, host and port, showing the defaults; answers and Enter are taken; the banner shows
//! the chosen port; SIGTERM ends it cleanly (exit status 0).

use std::process::Command;

use rexpect::process::{Signal, WaitStatus};
use rexpect::session::spawn_command;

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

#[test]
fn prompts_in_a_terminal_then_banner_then_clean_exit_on_sigterm() {
    let tmp = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut command = Command::new(env!("CARGO_BIN_EXE_tussi-server"));
    command.current_dir(tmp.path()).arg("--no-fsync");
    for var in ["TUSSI_HOST", "TUSSI_PORT", "TUSSI_UPLOAD_DIR", "TUSSI_DEST_DIR", "TUSSI_NO_PROMPT"] {
        command.env_remove(var);
    }
    // Every expectation fails after 20 s instead of hanging.
    let mut session = spawn_command(command, Some(20_000)).expect("spawn tussi-server in a pty");

    session.exp_string("1/4 Upload dir [./uploads]: ").unwrap();
    session.send_line("incoming").unwrap();
    session.exp_string("2/4 Dest dir   [./dest]: ").unwrap();
    session.send_line("done").unwrap();
    session.exp_string("3/4 Host       [127.0.0.1]: ").unwrap();
    session.send_line("").unwrap(); // Enter keeps the default
    session.exp_string("4/4 Port       [8080]: ").unwrap();
    session.send_line("not-a-port").unwrap();
    session.exp_string("is not valid").unwrap();
    session.exp_string("4/4 Port       [8080]: ").unwrap();
    session.send_line(&port.to_string()).unwrap();

    session.exp_string(&format!("serving http://127.0.0.1:{port}/files/")).unwrap();
    session.exp_string("Press Ctrl-C to stop.").unwrap();
    assert!(tmp.path().join("incoming").is_dir(), "upload dir from the answer");
    assert!(tmp.path().join("incoming/.completed").is_dir(), "completed dir under it");
    assert!(tmp.path().join("done").is_dir(), "dest dir from the answer");
    std::net::TcpStream::connect(("127.0.0.1", port)).expect("listening on the chosen port");

    session.process_mut().signal(Signal::SIGTERM).unwrap();
    session.exp_string("tussi-server stopped.").unwrap();
    session.exp_eof().unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    let status = loop {
        match session.process().status() {
            Some(WaitStatus::StillAlive) | None if std::time::Instant::now() < deadline => {
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
            Some(status) => break status,
            None => panic!("no exit status"),
        }
    };
    assert!(matches!(status, WaitStatus::Exited(_, 0)), "{status:?}");
}

#[test]
fn given_options_are_not_asked() {
    let tmp = tempfile::tempdir().unwrap();
    let mut command = Command::new(env!("CARGO_BIN_EXE_tussi-server"));
    // Given as options or as environment variables: both count.
    command.current_dir(tmp.path()).args(["--no-fsync", "--port", "0", "--dest-dir", "d"]);
    command.env("TUSSI_HOST", "127.0.0.1").env("TUSSI_NO_FSYNC", "1");
    command.env_remove("TUSSI_UPLOAD_DIR").env_remove("TUSSI_NO_PROMPT");
    let mut session = spawn_command(command, Some(20_000)).expect("spawn tussi-server in a pty");
    // Only the upload dir is left to ask, as 1/1.
    session.exp_string("1/1 Upload dir [./uploads]: ").unwrap();
    session.send_line("").unwrap();
    session.exp_string("serving http://127.0.0.1:").unwrap();
    session.process_mut().signal(Signal::SIGINT).unwrap();
    session.exp_string("tussi-server stopped.").unwrap();
    session.exp_eof().unwrap();
}
