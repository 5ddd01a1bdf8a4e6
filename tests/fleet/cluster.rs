//! A three-node NATS cluster on loopback, each node with MQTT and
//! JetStream (which keeps MQTT's retained messages, replicated on all
//! three): the clustered broker a fleet runs on. Nodes can be killed and
//! started again.

use crate::util::TempDir;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// One node.
struct Node {
    child: Option<Child>,
    config: std::path::PathBuf,
    mqtt: u16,
}

/// The cluster, stopped on drop.
pub(crate) struct Cluster {
    nodes: Vec<Node>,
    _dir: TempDir,
}

/// A free port on loopback.
pub(crate) fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

impl Cluster {
    /// Starts three nodes and waits until a retained message published on
    /// one is read on another.
    pub(crate) fn start() -> Self {
        let dir = TempDir::new("nats");
        let (routes, mqtt, client): (Vec<u16>, Vec<u16>, Vec<u16>) = (
            (0..3).map(|_| free_port()).collect(),
            (0..3).map(|_| free_port()).collect(),
            (0..3).map(|_| free_port()).collect(),
        );
        let route_list: Vec<String> = routes
            .iter()
            .map(|p| format!("nats://127.0.0.1:{p}"))
            .collect();
        let nodes = (0..3)
            .map(|i| {
                let store = dir.0.join(format!("js{i}"));
                let config = dir.write(
                    &format!("n{i}.conf"),
                    format!(
                        "server_name: n{i}\nlisten: 127.0.0.1:{}\njetstream {{ store_dir: \"{}\" }}\n\
                         cluster {{ name: fleet, listen: 127.0.0.1:{}, routes: [{}] }}\n\
                         mqtt {{ listen: 127.0.0.1:{} }}\n",
                        client[i],
                        store.display(),
                        routes[i],
                        route_list.join(", "),
                        mqtt[i]
                    ),
                );
                Node {
                    child: None,
                    config,
                    mqtt: mqtt[i],
                }
            })
            .collect();
        let mut cluster = Self { nodes, _dir: dir };
        for i in 0..3 {
            cluster.start_node(i);
        }
        cluster.wait_ready();
        cluster
    }

    /// Starts node `i` (again).
    pub(crate) fn start_node(&mut self, i: usize) {
        let node = &mut self.nodes[i];
        let program = ["nats-server", "/usr/sbin/nats-server"]
            .into_iter()
            .find(|program| Command::new(program).arg("--version").output().is_ok())
            .expect("nats-server is installed (tests/run installs it)");
        let child = Command::new(program)
            .arg("-c")
            .arg(&node.config)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        node.child = Some(child);
    }

    /// Kills node `i` (SIGKILL: no goodbye to its clients).
    pub(crate) fn kill_node(&mut self, i: usize) {
        if let Some(mut child) = self.nodes[i].child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Waits until every node takes a retained message another node had
    /// (JetStream elects its leaders after the nodes start): a state only
    /// a poll can see.
    fn wait_ready(&self) {
        let topic = format!("probe/{}", std::process::id());
        crate::util::wait_until(
            "the NATS cluster's MQTT",
            Duration::from_secs(60),
            Duration::from_millis(300),
            || {
                let published = mosquitto(
                    "mosquitto_pub",
                    self.nodes[0].mqtt,
                    &["-t", &topic, "-m", "up", "-r", "-q", "1"],
                );
                let read = self.nodes.iter().all(|node| {
                    mosquitto(
                        "mosquitto_sub",
                        node.mqtt,
                        &["-t", &topic, "-C", "1", "-W", "2"],
                    )
                });
                (published && read).then_some(())
            },
        );
    }

    /// The nodes' MQTT URLs, starting at node `first`.
    pub(crate) fn urls(&self, first: usize) -> Vec<String> {
        (0..3)
            .map(|i| format!("mqtt://127.0.0.1:{}", self.nodes[(first + i) % 3].mqtt))
            .collect()
    }

    /// Node `i`'s MQTT port.
    pub(crate) fn port(&self, i: usize) -> u16 {
        self.nodes[i].mqtt
    }

    /// Each running node's peak resident memory, in KiB.
    pub(crate) fn peak_kib(&self) -> Vec<u64> {
        (self.nodes.iter())
            .filter_map(|node| node.child.as_ref())
            .map(|child| super::peak_kib(child.id()))
            .collect()
    }
}

fn mosquitto(program: &str, port: u16, args: &[&str]) -> bool {
    Command::new(program)
        .args(["-h", "127.0.0.1", "-p", &port.to_string(), "-V", "mqttv311"])
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for i in 0..3 {
            self.kill_node(i);
        }
    }
}
