//! Real database servers for the tests, from the distribution's packages:
//! PostgreSQL (`postgresql`) and Redis (`redis-server`), each started on a
//! free loopback port in a directory of its own, and killed when dropped.
//! Without the package, `None` after a line saying the test skipped, or a
//! failure where the packages are mandatory (`.ci/run`), as
//! [`crate::support::system_program`] does.
//! A module of the test crates that start servers:
//! `#[path = "support/servers.rs"] mod servers;`.
#![allow(unreachable_pub)] // a module of a test crate: `pub` here is no public API

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A server process, killed when dropped.
pub struct Server {
    child: Child,
    /// Its loopback port.
    pub port: u16,
    /// What stops it at once, when killing its process is not enough (a
    /// server run through `runuser`, which does not pass a kill on).
    stop: Option<Command>,
    /// Its files, removed when dropped.
    _dir: tempfile::TempDir,
}

impl Server {
    /// Stops the server at once, as a crash would.
    pub fn kill(&mut self) {
        if let Some(mut stop) = self.stop.take() {
            let _ = stop.stdout(Stdio::null()).stderr(Stdio::null()).status();
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

/// PostgreSQL's program `name`: on `PATH`, or where Debian puts it
/// (`/usr/lib/postgresql/<version>/bin`, not on `PATH`).
fn postgres_program(test: &str, name: &str) -> Option<PathBuf> {
    let installed = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .map(|version| version.path().join("bin").join(name))
        .find(|program| program.is_file());
    if installed.is_some() {
        return installed;
    }
    crate::support::system_program(test, "postgresql", &[name])
}

/// Whether this process runs as root, whom PostgreSQL refuses to run as.
fn is_root() -> bool {
    Command::new("id").arg("-u").output().is_ok_and(|out| out.stdout.trim_ascii() == b"0")
}

/// `program` with `args`, as the `postgres` user when this process is root.
fn as_postgres(program: &Path, args: &[&str]) -> Command {
    if is_root() {
        let mut command = Command::new("runuser");
        command.args(["-u", "postgres", "--"]).arg(program).args(args);
        command
    } else {
        let mut command = Command::new(program);
        command.args(args);
        command
    }
}

/// A PostgreSQL server whose user `filibuster` (trusted, no password) owns
/// the database `shop`: its URL is [`postgres_url`].
pub fn postgres(test: &str) -> Option<Server> {
    let initdb = postgres_program(test, "initdb")?;
    let postgres = postgres_program(test, "postgres")?;
    let pg_ctl = postgres_program(test, "pg_ctl")?;
    let createdb = postgres_program(test, "createdb")?;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir(&data).unwrap();
    if is_root() {
        let owned = Command::new("chown").args(["-R", "postgres:postgres"]).arg(dir.path()).status().unwrap();
        assert!(owned.success(), "cannot give {} to the postgres user", dir.path().display());
    }
    let data_text = data.to_str().unwrap();
    let output = as_postgres(&initdb, &["-D", data_text, "-U", "filibuster", "--auth=trust", "-E", "UTF8"])
        .output()
        .unwrap();
    assert!(output.status.success(), "initdb failed: {}", String::from_utf8_lossy(&output.stderr));
    let port = crate::support::free_port();
    let port_text = port.to_string();
    let child = as_postgres(
        &postgres,
        &[
            "-D",
            data_text,
            "-p",
            &port_text,
            "-k",
            data_text,
            "-c",
            "listen_addresses=127.0.0.1",
            "-c",
            "fsync=off",
        ],
    )
    .stdout(Stdio::null())
    .stderr(Stdio::null())
    .spawn()
    .unwrap();
    let stop = as_postgres(&pg_ctl, &["stop", "-D", data_text, "-m", "immediate"]);
    let server = Server { child, port, stop: Some(stop), _dir: dir };
    wait_for_port(port, "postgres");
    let created = Command::new(createdb)
        .args(["-h", "127.0.0.1", "-p", &port_text, "-U", "filibuster", "shop"])
        .status()
        .unwrap();
    assert!(created.success(), "createdb failed");
    Some(server)
}

/// The URL of database `shop` on the PostgreSQL server at `port`.
pub fn postgres_url(port: u16) -> String {
    format!("postgres://filibuster@127.0.0.1:{port}/shop")
}

/// A Redis server that keeps nothing on disk.
pub fn redis(test: &str) -> Option<Server> {
    let program = crate::support::system_program(test, "redis-server", &["redis-server"])?;
    let dir = tempfile::tempdir().unwrap();
    let port = crate::support::free_port();
    let child = Command::new(program)
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
        .arg("--dir")
        .arg(dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let server = Server { child, port, stop: None, _dir: dir };
    wait_for_port(port, "redis-server");
    Some(server)
}

/// Waits until something accepts connections on `port` (at most 30 s).
fn wait_for_port(port: u16, name: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "{name} did not start on port {port}");
        std::thread::sleep(Duration::from_millis(50));
    }
}
