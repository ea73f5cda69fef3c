//! The real `crisisd` binary for these tests: start `serve`, talk HTTP/1.0, kill -9.

pub use crisisd::tools::free_port;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A `crisisd serve`, killed with SIGKILL (and reaped) on drop.
pub struct Crisisd {
    pub child: Child,
    pub port: u16,
}

impl Crisisd {
    /// `crisisd serve` on `data_dir` (with `--nats-url nats_url` if given), its log
    /// (level `warn`) into `log`; waits until it answers HTTP.
    pub fn serve(data_dir: &Path, nats_url: Option<&str>, log: &Path) -> Crisisd {
        let port = free_port().unwrap();
        let mut command = Command::new(env!("CARGO_BIN_EXE_crisisd"));
        command
            .args(["--data-dir", data_dir.to_str().unwrap(), "serve"])
            .args(["--http-addr", &format!("127.0.0.1:{port}")])
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(log).unwrap());
        if let Some(url) = nats_url {
            command.args(["--nats-url", url]);
        }
        let mut crisisd = Crisisd {
            child: command.spawn().expect("start crisisd serve"),
            port,
        };
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Some(status) = crisisd.child.try_wait().unwrap() {
                panic!(
                    "crisisd serve exited with {status} before serving: {}",
                    std::fs::read_to_string(log).unwrap_or_default()
                );
            }
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "crisisd serves HTTP within 60 s"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        crisisd
    }

    /// kill -9, and reap it: once this returns, none of its writes is in flight.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        self.child.wait().expect("reap crisisd");
    }
}

impl Drop for Crisisd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One HTTP/1.0 request over a fresh connection: (status, body), or `None` when the
/// connection failed or was cut (the server was killed).
pub fn http(port: u16, method: &str, path: &str, token: &str, body: &str) -> Option<(u16, String)> {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .ok()?;
    write!(
        stream,
        "{method} {path} HTTP/1.0\r\nHost: localhost\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    let status = response.get(9..12)?.parse().ok()?;
    let body = response.split_once("\r\n\r\n")?.1.to_owned();
    Some((status, body))
}

/// Runs `crisisd --data-dir data_dir args…` to completion.
pub fn crisisd(data_dir: &Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_crisisd"))
        .args(["--data-dir", data_dir.to_str().unwrap()])
        .args(args)
        .env("RUST_LOG", "warn")
        .output()
        .expect("run crisisd")
}

/// Issues a token with `crisisd token add`; `None` if the command failed.
pub fn token_add(data_dir: &Path, role: &str, actor: &str) -> Option<String> {
    let output = crisisd(
        data_dir,
        &["token", "add", "--role", role, "--actor", actor],
    );
    output
        .status
        .success()
        .then(|| String::from_utf8(output.stdout).unwrap().trim().to_owned())
}
