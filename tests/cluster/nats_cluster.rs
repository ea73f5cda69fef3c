//! Three `nats-server`s with JetStream clustered on loopback ports, each with its own store
//! directory and `sync_interval: always` (issue 24: acknowledged means on disk). One can
//! be killed with SIGKILL and restarted on the same ports and directory; all stop in `Drop`.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::nats_server::{answers_as, binary};
use crisisd::tools::free_port;

pub const SIZE: usize = 3;

struct Server {
    name: String,
    client_port: u16,
    config: PathBuf,
    log: PathBuf,
    child: Option<Child>,
}

pub struct NatsCluster {
    servers: Vec<Server>,
    _dir: tempfile::TempDir,
}

impl NatsCluster {
    /// Starts three servers and waits until JetStream has a meta leader and can place an
    /// R3 stream. Tries fresh ports if one was taken between picking and binding it.
    pub async fn start() -> NatsCluster {
        for attempt in 1..=3 {
            match NatsCluster::spawn_all() {
                Ok(cluster) => {
                    cluster.wait_ready().await;
                    return cluster;
                }
                Err(why) => eprintln!("nats cluster attempt {attempt}: {why}"),
            }
        }
        panic!("the three-server nats cluster did not start in three attempts (see above)");
    }

    fn spawn_all() -> Result<NatsCluster, String> {
        let dir = tempfile::tempdir().unwrap();
        let client_ports: Vec<u16> = (0..SIZE).map(|_| free_port().unwrap()).collect();
        let cluster_ports: Vec<u16> = (0..SIZE).map(|_| free_port().unwrap()).collect();
        let routes = cluster_ports
            .iter()
            .map(|port| format!("\"nats-route://127.0.0.1:{port}\""))
            .collect::<Vec<_>>()
            .join(", ");
        let mut servers = Vec::new();
        for i in 0..SIZE {
            let name = format!("n{i}-{}", client_ports[i]);
            let store = dir.path().join(format!("n{i}"));
            let config = dir.path().join(format!("n{i}.conf"));
            std::fs::write(
                &config,
                format!(
                    "server_name: \"{name}\"\nlisten: \"127.0.0.1:{client}\"\n\
                     jetstream {{\n  store_dir: \"{store}\"\n  sync_interval: always\n}}\n\
                     cluster {{\n  name: \"crisis-test\"\n  listen: \"127.0.0.1:{cluster}\"\n  routes: [{routes}]\n}}\n",
                    client = client_ports[i],
                    cluster = cluster_ports[i],
                    store = store.display(),
                ),
            )
            .unwrap();
            servers.push(Server {
                name,
                client_port: client_ports[i],
                log: dir.path().join(format!("n{i}.log")),
                config,
                child: None,
            });
        }
        let mut cluster = NatsCluster { servers, _dir: dir };
        for i in 0..SIZE {
            cluster.spawn(i)?;
        }
        Ok(cluster)
    }

    fn spawn(&mut self, i: usize) -> Result<(), String> {
        let server = &mut self.servers[i];
        assert!(server.child.is_none(), "server {i} already runs");
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&server.log)
            .unwrap();
        let mut child = Command::new(binary())
            .arg("-c")
            .arg(&server.config)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start nats-server");
        let deadline = Instant::now() + Duration::from_secs(20);
        while !answers_as(server.client_port, &server.name) {
            if let Some(status) = child.try_wait().unwrap() {
                let said = std::fs::read_to_string(&server.log).unwrap_or_default();
                let tail: Vec<&str> = said.lines().rev().take(5).collect();
                return Err(format!(
                    "{} exited with {status} before listening; it said: {}",
                    server.name,
                    tail.into_iter().rev().collect::<Vec<_>>().join(" | ")
                ));
            }
            if Instant::now() >= deadline {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("{} did not listen within 20 s", server.name));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        server.child = Some(child);
        Ok(())
    }

    /// Waits until every server answers JetStream requests and an R3 stream can be placed.
    pub async fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        let client = self.client().await;
        let js = async_nats::jetstream::new(client);
        loop {
            let probe = async_nats::jetstream::stream::Config {
                name: "READY_PROBE".to_owned(),
                subjects: vec!["ready.probe".to_owned()],
                storage: async_nats::jetstream::stream::StorageType::Memory,
                num_replicas: SIZE,
                ..Default::default()
            };
            let created =
                tokio::time::timeout(Duration::from_secs(5), js.create_stream(probe)).await;
            if let Ok(Ok(_)) = created {
                let _ = js.delete_stream("READY_PROBE").await;
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the nats cluster did not get a JetStream meta leader able to place an R3 stream within 60 s: {created:?}"
            );
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    /// All three client URLs, for a client that should survive one server's death.
    pub fn urls(&self) -> Vec<String> {
        (0..SIZE).map(|i| self.url(i)).collect()
    }

    pub fn url(&self, i: usize) -> String {
        format!("nats://127.0.0.1:{}", self.servers[i].client_port)
    }

    pub fn port(&self, i: usize) -> u16 {
        self.servers[i].client_port
    }

    /// The name of server `i` (as in a stream's cluster info).
    pub fn name(&self, i: usize) -> &str {
        &self.servers[i].name
    }

    /// The index of the server named `name` (as in a stream's cluster info).
    pub fn index_of(&self, name: &str) -> usize {
        self.servers
            .iter()
            .position(|s| s.name == name)
            .unwrap_or_else(|| panic!("no server named {name}"))
    }

    /// A client that knows all three servers and retries its first connect.
    pub async fn client(&self) -> async_nats::Client {
        async_nats::ConnectOptions::new()
            .retry_on_initial_connect()
            .max_reconnects(None)
            .connect(self.urls())
            .await
            .expect("connect to the nats cluster")
    }

    /// SIGKILL: no shutdown, no flush, as a crash.
    pub fn kill(&mut self, i: usize) {
        let mut child = self.servers[i].child.take().expect("server runs");
        child.kill().unwrap();
        child.wait().unwrap();
    }

    pub fn restart(&mut self, i: usize) {
        if let Err(why) = self.spawn(i) {
            panic!("nats-server {i} did not restart: {why}");
        }
    }
}

impl Drop for NatsCluster {
    fn drop(&mut self) {
        for server in &mut self.servers {
            if let Some(mut child) = server.child.take() {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
    }
}

/// The name of the server leading stream `stream`'s Raft group.
pub async fn stream_leader(js: &async_nats::jetstream::Context, stream: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(mut s) = js.get_stream(stream).await
            && let Ok(info) = s.info().await
            && let Some(leader) = info.cluster.as_ref().and_then(|c| c.leader.clone())
        {
            return leader;
        }
        assert!(
            Instant::now() < deadline,
            "stream {stream} has no leader within 30 s"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
