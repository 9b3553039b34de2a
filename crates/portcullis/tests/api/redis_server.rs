//! A private `redis-server` on a port of its own, which a test may stop and start again to
//! see what the nodes do while Redis is away.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

pub struct RedisServer {
    child: Option<Child>,
    pub port: u16,
}

impl RedisServer {
    /// Starts one on a free port; `None` (skip) when `redis-server` is not installed, unless
    /// `TEST_REQUIRE_REDIS=1`.
    pub fn start() -> Option<Self> {
        let installed = Command::new("redis-server")
            .arg("--version")
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !installed {
            assert!(
                std::env::var("TEST_REQUIRE_REDIS").as_deref() != Ok("1"),
                "TEST_REQUIRE_REDIS=1 but redis-server is not installed"
            );
            eprintln!("redis-server not installed: test skipped (apt-get install redis-server)");
            return None;
        }
        let mut server = Self {
            child: None,
            port: crate::helpers::free_port(),
        };
        server.up();
        Some(server)
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Starts the server (again, empty) on its port and waits until it listens.
    pub fn up(&mut self) {
        let child = Command::new("redis-server")
            .args(["--bind", "127.0.0.1", "--port", &self.port.to_string()])
            .args(["--save", "", "--appendonly", "no", "--daemonize", "no"])
            .stdout(Stdio::null())
            .spawn()
            .expect("redis-server starts");
        self.child = Some(child);
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("redis-server did not listen on {}", self.port);
    }

    /// Stops the server at once, as a crash would.
    pub fn down(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.down();
    }
}
