//! crisisd nodes in cluster mode (`crisisd serve --cluster`) on the three-server NATS
//! cluster: start N of them, each with its own data directory and HTTP port and one shared
//! tokens file; `kill -9`, SIGSTOP, SIGCONT and restart one; read `GET /v1/cluster`; send
//! commands the way a client does (follow a follower's 307 to the leader, retry 503 and
//! connection errors with a bounded backoff). Every process started here is killed in
//! `Drop`, also when a test panics (then the tail of each node's log is printed).

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::nats_cluster::NatsCluster;
pub use crisisd::tools::free_port;

/// The cluster name the nodes run under (`--cluster`).
pub const CLUSTER: &str = "test";
/// How long one HTTP exchange may take before the client gives up on it.
pub const HTTP_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a node may take to answer HTTP after it was started.
const START_WITHIN: Duration = Duration::from_secs(60);
/// How long a node may take to exit after SIGTERM before it is killed.
const STOP_WITHIN: Duration = Duration::from_secs(30);

/// The node tests share two cores: one at a time, so three nodes and three NATS servers
/// do not compete with another test's for the CPU (a starved leader misses renewals).
static SERIAL: Mutex<()> = Mutex::new(());

/// Holds the node tests' turn until dropped (a panicked test's turn is taken over).
pub fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Bearer tokens in the shared tokens file.
pub struct Tokens {
    /// crisis_lead: opens incidents, reads, audits.
    pub lead: String,
    /// channel: posts feedback to `/v1/ingest/feedback`.
    pub channel: String,
    /// auditor: reads (`/v1/cluster`, the board, `/v1/audit/verify`).
    pub auditor: String,
    /// flight_ops: posts manifests to `/v1/ingest/manifest`.
    pub ops: String,
    /// admin: registers and erases passengers.
    pub admin: String,
}

/// How [`Nodes::start`] starts the nodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Start {
    Together,
    OneByOne,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Running,
    Paused,
    Killed,
}

struct Node {
    id: String,
    port: u16,
    dir: PathBuf,
    log: PathBuf,
    child: Option<Child>,
    state: State,
}

pub struct Nodes {
    nodes: Vec<Node>,
    nats_urls: String,
    tokens_file: PathBuf,
    pub tokens: Tokens,
    dir: Option<tempfile::TempDir>,
}

/// The runtime the cluster tests drive NATS and their clients on.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// Issues a token into `data_dir`'s tokens file with `crisisd token add`.
pub fn token(data_dir: &Path, role: &str, actor: &str) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_crisisd"))
        .args(["--data-dir", data_dir.to_str().unwrap(), "token", "add"])
        .args(["--role", role, "--actor", actor])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "crisisd token add: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap().trim().to_owned()
}

impl Nodes {
    /// Starts `count` nodes (`node-1` …) against `nats` and waits until each answers
    /// `GET /v1/cluster`: all at once as a deployment does ([`Start::Together`]), or each
    /// once the one before it serves ([`Start::OneByOne`]).
    pub fn start(nats: &NatsCluster, count: usize, start: Start) -> Nodes {
        let dir = tempfile::tempdir().unwrap();
        let data_dirs: Vec<PathBuf> = (1..=count)
            .map(|n| dir.path().join(format!("node-{n}")))
            .collect();
        Nodes::launch(nats, dir, &data_dirs, start, None)
    }

    /// Like [`Nodes::start`], one node per data directory of `data_dirs` (for example on a
    /// test filesystem that fails on demand).
    pub fn start_on(nats: &NatsCluster, data_dirs: &[PathBuf], start: Start) -> Nodes {
        Nodes::launch(nats, tempfile::tempdir().unwrap(), data_dirs, start, None)
    }

    /// Like [`Nodes::start_on`], every node given the master key file `master` (that of
    /// a data directory that served on its own before).
    pub fn start_with_master(
        nats: &NatsCluster,
        data_dirs: &[PathBuf],
        start: Start,
        master: &Path,
    ) -> Nodes {
        Nodes::launch(
            nats,
            tempfile::tempdir().unwrap(),
            data_dirs,
            start,
            Some(master),
        )
    }

    fn launch(
        nats: &NatsCluster,
        dir: tempfile::TempDir,
        data_dirs: &[PathBuf],
        start: Start,
        master: Option<&Path>,
    ) -> Nodes {
        let count = data_dirs.len();
        let auth = dir.path().join("auth");
        std::fs::create_dir_all(&auth).unwrap();
        let tokens = Tokens {
            lead: token(&auth, "crisis_lead", "lead-anna"),
            channel: token(&auth, "channel", "channel-web"),
            auditor: token(&auth, "auditor", "auditor-ida"),
            ops: token(&auth, "flight_ops", "dcs-fra"),
            admin: token(&auth, "admin", "privacy-officer"),
        };
        // Every node seals under the same master key.
        match master {
            Some(master) => {
                std::fs::copy(master, auth.join("master.key")).unwrap();
            }
            None => {
                let master = Command::new(env!("CARGO_BIN_EXE_crisisd"))
                    .args(["keys", "new-master"])
                    .output()
                    .unwrap();
                assert!(master.status.success(), "crisisd keys new-master");
                std::fs::write(auth.join("master.key"), &master.stdout).unwrap();
            }
        }
        let nodes = (1..=count)
            .zip(data_dirs)
            .map(|(n, data_dir)| Node {
                id: format!("node-{n}"),
                port: free_port().unwrap(),
                dir: data_dir.clone(),
                log: dir.path().join(format!("node-{n}.log")),
                child: None,
                state: State::Killed,
            })
            .collect();
        let mut nodes = Nodes {
            nodes,
            nats_urls: nats.urls().join(","),
            tokens_file: auth.join("tokens.json"),
            tokens,
            dir: Some(dir),
        };
        for i in 0..count {
            nodes.spawn(i);
            if start == Start::OneByOne {
                nodes.wait_http(i);
            }
        }
        for i in 0..count {
            nodes.wait_http(i);
        }
        nodes
    }

    /// The master key file every node is given.
    pub fn master_key_file(&self) -> PathBuf {
        self.tokens_file.with_file_name("master.key")
    }

    fn spawn(&mut self, i: usize) {
        let node = &self.nodes[i];
        assert!(node.child.is_none(), "{} already runs", node.id);
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&node.log)
            .unwrap();
        let url = format!("http://127.0.0.1:{}", node.port);
        let child = Command::new(env!("CARGO_BIN_EXE_crisisd"))
            .args(["--data-dir", node.dir.to_str().unwrap(), "serve"])
            .args(["--http-addr", &format!("127.0.0.1:{}", node.port)])
            .args(["--nats-url", &self.nats_urls])
            .args(["--cluster", CLUSTER, "--node-id", &node.id])
            .args(["--advertise-url", &url])
            .args(["--tokens-file", self.tokens_file.to_str().unwrap()])
            .args([
                "--master-key-file",
                self.master_key_file().to_str().unwrap(),
            ])
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start crisisd serve --cluster");
        let node = &mut self.nodes[i];
        node.child = Some(child);
        node.state = State::Running;
    }

    /// Waits until node `i` answers `GET /v1/cluster` with 200.
    fn wait_http(&mut self, i: usize) {
        let started = Instant::now();
        loop {
            let last = match self.get(i, "/v1/cluster") {
                Ok(answer) if answer.status == 200 => return,
                answered => answered,
            };
            let exited = self.nodes[i].child.as_mut().unwrap().try_wait().unwrap();
            if let Some(status) = exited {
                panic!(
                    "{} exited with {status} before serving HTTP; its log ends:\n{}",
                    self.nodes[i].id,
                    self.log_tail(i, 30)
                );
            }
            assert!(
                started.elapsed() < START_WITHIN,
                "{} does not answer GET /v1/cluster with 200 within {START_WITHIN:?} (last: {last:?}); its log ends:\n{}",
                self.nodes[i].id,
                self.log_tail(i, 30)
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    pub fn id(&self, i: usize) -> &str {
        &self.nodes[i].id
    }

    pub fn port(&self, i: usize) -> u16 {
        self.nodes[i].port
    }

    pub fn ports(&self) -> Vec<u16> {
        self.nodes.iter().map(|n| n.port).collect()
    }

    pub fn url(&self, i: usize) -> String {
        format!("http://127.0.0.1:{}", self.nodes[i].port)
    }

    pub fn dir(&self, i: usize) -> &Path {
        &self.nodes[i].dir
    }

    pub fn pid(&self, i: usize) -> u32 {
        self.nodes[i].child.as_ref().expect("node runs").id()
    }

    /// Whether node `i`'s process is still the one started (a re-exec keeps the PID).
    pub fn still_running(&mut self, i: usize) -> bool {
        match self.nodes[i].child.as_mut() {
            Some(child) => child.try_wait().unwrap().is_none(),
            None => false,
        }
    }

    /// How node `i`'s process ended, once it has (it then counts as killed: `restart`
    /// starts it again, as a supervisor would); `None` while it runs.
    pub fn exited(&mut self, i: usize) -> Option<ExitStatus> {
        let node = &mut self.nodes[i];
        let status = node.child.as_mut()?.try_wait().unwrap()?;
        node.child = None;
        node.state = State::Killed;
        Some(status)
    }

    /// Panics, with the end of its log, when node `i`'s process has exited.
    pub fn assert_alive(&mut self, i: usize, when: &str) {
        let exited = match self.nodes[i].child.as_mut() {
            Some(child) => child.try_wait().unwrap(),
            None => return,
        };
        if let Some(status) = exited {
            panic!(
                "{} exited with {status} {when}; its log ends:\n{}",
                self.nodes[i].id,
                self.log_tail(i, 5)
            );
        }
    }

    /// Waits until node `i` (alive throughout) says it follows `leader`; `since` names
    /// what it is waited on after, for the failure message.
    pub fn wait_following(&mut self, i: usize, leader: usize, since: &str) {
        let started = Instant::now();
        loop {
            self.assert_alive(i, since);
            let view = self.view(i);
            if let Some(view) = &view
                && view["role"] == "follower"
                && view["leader"]["node_id"] == self.id(leader)
            {
                return;
            }
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "{} does not follow {} within 60 s {since}: {view:?}",
                self.id(i),
                self.id(leader)
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// SIGKILL: no shutdown, as a crash.
    pub fn kill(&mut self, i: usize) {
        let node = &mut self.nodes[i];
        let mut child = node.child.take().expect("node runs");
        child.kill().unwrap();
        child.wait().unwrap();
        node.state = State::Killed;
    }

    /// Starts a killed node again on its data directory and port, and waits for HTTP.
    pub fn restart(&mut self, i: usize) {
        self.spawn(i);
        self.wait_http(i);
    }

    /// SIGSTOP: the process is frozen, its sockets stay open.
    pub fn pause(&mut self, i: usize) {
        signal(self.pid(i), "STOP");
        self.nodes[i].state = State::Paused;
    }

    /// SIGCONT.
    pub fn resume(&mut self, i: usize) {
        signal(self.pid(i), "CONT");
        self.nodes[i].state = State::Running;
    }

    /// SIGTERM to every running node, then waits for each to exit (SIGKILL after
    /// [`STOP_WITHIN`]). Returns how each ended: `Ok(status)`, or `Err` when it had to be
    /// killed.
    pub fn stop_all(&mut self) -> Vec<Result<ExitStatus, String>> {
        for node in &self.nodes {
            if let Some(child) = &node.child {
                signal(child.id(), "TERM");
            }
        }
        let mut ended = Vec::new();
        for node in &mut self.nodes {
            let Some(mut child) = node.child.take() else {
                continue;
            };
            let started = Instant::now();
            let end = loop {
                if let Some(status) = child.try_wait().unwrap() {
                    break Ok(status);
                }
                if started.elapsed() > STOP_WITHIN {
                    let _ = child.kill();
                    let _ = child.wait();
                    break Err(format!(
                        "{} did not exit within {STOP_WITHIN:?} of SIGTERM",
                        node.id
                    ));
                }
                std::thread::sleep(Duration::from_millis(50));
            };
            node.state = State::Killed;
            ended.push(end);
        }
        ended
    }

    /// One GET on node `i` with the auditor's token.
    pub fn get(&self, i: usize, path: &str) -> std::io::Result<Answer> {
        http(
            self.nodes[i].port,
            "GET",
            path,
            &self.tokens.auditor,
            &[],
            "",
            Duration::from_secs(3),
        )
    }

    /// `GET /v1/cluster` on node `i`, when it answers 200 in time.
    pub fn view(&self, i: usize) -> Option<Value> {
        let answer = self.get(i, "/v1/cluster").ok()?;
        (answer.status == 200).then(|| answer.json())
    }

    /// The running (not paused, not killed) nodes.
    pub fn running(&self) -> Vec<usize> {
        (0..self.nodes.len())
            .filter(|&i| self.nodes[i].state == State::Running)
            .collect()
    }

    /// Waits until exactly one running node says it leads; returns it. `within` bounds it.
    pub fn wait_leader(&self, within: Duration) -> usize {
        let started = Instant::now();
        loop {
            let views: Vec<(usize, Option<Value>)> = self
                .running()
                .into_iter()
                .map(|i| (i, self.view(i)))
                .collect();
            let leaders: Vec<usize> = views
                .iter()
                .filter(|(_, v)| v.as_ref().is_some_and(|v| v["role"] == "leader"))
                .map(|(i, _)| *i)
                .collect();
            if leaders.len() == 1 {
                return leaders[0];
            }
            assert!(
                started.elapsed() < within,
                "not exactly one leader among the running nodes within {within:?}; last views: {views:?}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Waits until every running node reports the same head (position and hash) in
    /// `/v1/cluster`, unchanged for `stable`; returns it.
    pub fn wait_converged(&self, within: Duration, stable: Duration) -> Head {
        let started = Instant::now();
        let mut agreed: Option<(Head, Instant)> = None;
        loop {
            let heads: Vec<Option<Head>> = self
                .running()
                .into_iter()
                .map(|i| self.view(i).map(|v| Head::of(&v)))
                .collect();
            let same = heads.iter().all(|h| h.is_some() && *h == heads[0]);
            if same {
                let head = heads[0].clone().unwrap();
                match &agreed {
                    Some((seen, since)) if *seen == head => {
                        if since.elapsed() >= stable {
                            return head;
                        }
                    }
                    _ => agreed = Some((head, Instant::now())),
                }
            } else {
                agreed = None;
            }
            assert!(
                started.elapsed() < within,
                "the nodes' heads are not equal and still for {stable:?} within {within:?}: {heads:?}"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Node `i`'s audit replay with personal data revealed (`token` must allow it).
    pub fn revealed_replay(&self, i: usize, token: &str) -> String {
        let replay = http(
            self.port(i),
            "GET",
            "/v1/audit/events?reveal=true",
            token,
            &[],
            "",
            Duration::from_secs(30),
        )
        .unwrap();
        assert_eq!(replay.status, 200, "{} replays: {replay:?}", self.id(i));
        replay.body
    }

    /// The last `lines` lines of node `i`'s log (all its runs).
    pub fn log_tail(&self, i: usize, lines: usize) -> String {
        let text = std::fs::read_to_string(&self.nodes[i].log).unwrap_or_default();
        let all: Vec<&str> = text.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }
}

impl Drop for Nodes {
    fn drop(&mut self) {
        for node in &mut self.nodes {
            if let Some(mut child) = node.child.take() {
                // SIGKILL ends a stopped process too.
                let _ = child.kill();
                let _ = child.wait();
            }
        }
        if std::thread::panicking() {
            for i in 0..self.nodes.len() {
                let log = std::fs::read_to_string(&self.nodes[i].log).unwrap_or_default();
                // A node's own panics and errors, and what its publisher last said,
                // wherever they are in its log.
                let lines: Vec<&str> = log.lines().collect();
                let wanted: Vec<usize> = (0..lines.len())
                    .filter(|&n| {
                        lines[n].contains("panicked at")
                            || lines[n].starts_with("crisisd: ")
                            || lines[n].contains(" ERROR ")
                            || lines[n].contains("crisisd::bus::publisher")
                            || (n > 0 && lines[n - 1].contains("panicked at"))
                    })
                    .collect();
                let panics: Vec<&str> = wanted[wanted.len().saturating_sub(15)..]
                    .iter()
                    .map(|&n| lines[n])
                    .collect();
                let tail: Vec<&str> = log.lines().filter(|l| !l.starts_with("  ")).collect();
                eprintln!(
                    "---- {} log: panics, errors, the publisher ----\n{}\n---- {} log, last lines ----\n{}",
                    self.nodes[i].id,
                    panics.join("\n"),
                    self.nodes[i].id,
                    tail[tail.len().saturating_sub(40)..].join("\n")
                );
            }
            if std::env::var_os("CRISISD_CLUSTER_KEEP").is_some()
                && let Some(dir) = self.dir.take()
            {
                eprintln!("kept the nodes' directories in {}", dir.keep().display());
            }
        }
    }
}

fn signal(pid: u32, name: &str) {
    let status = Command::new("kill")
        .args([&format!("-{name}"), &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success(), "kill -{name} {pid}");
}

/// A node's log head as `/v1/cluster` reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Head {
    pub position: u64,
    pub hash: String,
}

impl Head {
    pub fn of(view: &Value) -> Head {
        Head {
            position: view["head"]["position"]
                .as_u64()
                .unwrap_or_else(|| panic!("/v1/cluster without head.position: {view}")),
            hash: view["head"]["hash"].as_str().unwrap_or("").to_owned(),
        }
    }
}

/// An HTTP answer.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    /// Names in lower case.
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Answer {
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|err| panic!("not JSON ({err}): {}", self.body))
    }
}

/// One HTTP/1.0 exchange over a fresh connection (so no chunked encoding), each step
/// bounded by `timeout`.
pub fn http(
    port: u16,
    method: &str,
    path: &str,
    token: &str,
    headers: &[(&str, &str)],
    body: &str,
    timeout: Duration,
) -> std::io::Result<Answer> {
    let address = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let mut stream = std::net::TcpStream::connect_timeout(&address, timeout)?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    let mut request = format!(
        "{method} {path} HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    request.push_str(body);
    stream.write_all(request.as_bytes())?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response)?;
    let response = String::from_utf8_lossy(&response).into_owned();
    let Some((head, body)) = response.split_once("\r\n\r\n") else {
        return Err(std::io::Error::other(format!(
            "an incomplete answer: {response:?}"
        )));
    };
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|line| line.get(9..12))
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("no status line: {head:?}")))?;
    let headers = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    Ok(Answer {
        status,
        headers,
        body: body.to_owned(),
    })
}

/// The port and the path-and-query of a `Location: http://127.0.0.1:<port><path>`.
pub fn parse_location(location: &str) -> Option<(u16, String)> {
    let rest = location.strip_prefix("http://127.0.0.1:")?;
    let slash = rest.find('/')?;
    Some((rest[..slash].parse().ok()?, rest[slash..].to_owned()))
}

/// Counts of what clients ran into on their way to an acknowledgement.
#[derive(Default)]
pub struct Tally(Mutex<BTreeMap<String, u64>>);

impl Tally {
    pub fn add(&self, what: &str) {
        *self.0.lock().unwrap().entry(what.to_owned()).or_default() += 1;
    }

    pub fn snapshot(&self) -> BTreeMap<String, u64> {
        self.0.lock().unwrap().clone()
    }
}

/// A write some node acknowledged.
#[derive(Debug, Clone)]
pub struct Acked {
    pub answer: Answer,
    /// The port of the node that answered 200/202.
    pub port: u16,
    /// When the answer arrived.
    pub at: Instant,
}

/// Sends a POST the way a cluster client does, until a node acknowledges it (200/202)
/// or `within` runs out: starts at `ports[first % len]`, follows 307s to the leader
/// (at most 3 hops; a follower may also forward the request itself), and on a 503, another 5xx, a timeout or a connection error backs
/// off (50 ms doubling to 800 ms) and tries the next node. Any other answer is returned
/// as an error at once. Send an `Idempotency-Key` (or an idempotent body) so that a
/// retry after an unknown outcome stores nothing twice.
#[allow(clippy::too_many_arguments)]
pub fn post(
    ports: &[u16],
    first: usize,
    path: &str,
    token: &str,
    headers: &[(&str, &str)],
    body: &str,
    within: Duration,
    tally: &Tally,
) -> Result<Acked, String> {
    let deadline = Instant::now() + within;
    let mut backoff = Duration::from_millis(50);
    let mut next = first;
    let mut last = String::from("nothing sent");
    while Instant::now() < deadline {
        let mut port = ports[next % ports.len()];
        let mut target = path.to_owned();
        next += 1;
        for _hop in 0..4 {
            match http(port, "POST", &target, token, headers, body, HTTP_TIMEOUT) {
                Err(err) => {
                    tally.add(match err.kind() {
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut => "timeout",
                        _ => "connection error",
                    });
                    last = format!("{port}: {err}");
                    break;
                }
                Ok(answer) if answer.status == 307 => {
                    tally.add("307");
                    let Some((to, to_path)) = answer.header("location").and_then(parse_location)
                    else {
                        return Err(format!(
                            "{port} answered 307 without a usable Location: {answer:?}"
                        ));
                    };
                    if to_path != target {
                        tally.add("307 to another path");
                    }
                    if answer.header("x-crisisd-leader").is_none() {
                        tally.add("307 without X-Crisisd-Leader");
                    }
                    last = format!("{port}: 307 to {to}{to_path}");
                    (port, target) = (to, to_path);
                }
                Ok(answer) if answer.status == 200 || answer.status == 202 => {
                    if answer.header("x-crisisd-leader").is_some() {
                        tally.add("forwarded by a follower");
                    }
                    return Ok(Acked {
                        answer,
                        port,
                        at: Instant::now(),
                    });
                }
                Ok(answer) if answer.status >= 500 => {
                    tally.add(&format!("{}", answer.status));
                    if answer.status == 503 && answer.body.contains("no_leader") {
                        tally.add("503 no_leader");
                    }
                    if answer.status == 503 && answer.body.contains("leader_no_answer") {
                        tally.add("503 leader_no_answer");
                    }
                    last = format!("{port}: {} {}", answer.status, answer.body);
                    break;
                }
                Ok(answer) => {
                    return Err(format!(
                        "POST {target} on {port} answered {}: {}",
                        answer.status, answer.body
                    ));
                }
            }
        }
        std::thread::sleep(backoff);
        backoff = (backoff * 2).min(Duration::from_millis(800));
    }
    Err(format!(
        "POST {path}: no acknowledgement within {within:?}; last: {last}"
    ))
}
