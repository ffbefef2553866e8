//! The per-service binaries, uninstrumented: `users` (HTTP), `bookings` and
//! `movies` (gRPC) each in its own process, and the cinema's check passes
//! against them (no Filibuster server: no fault). Building this test makes
//! `cargo test` build the binaries, which filibuster-cli's tests drive too.

use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A port nothing listens on now.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// The children, killed on drop.
struct Children(Vec<Child>);

impl Drop for Children {
    fn drop(&mut self) {
        for child in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn spawn(binary: &str, port: u16, env: &[(&str, String)]) -> Child {
    let mut command = Command::new(binary);
    command
        .env_remove("FILIBUSTER_ENABLED")
        .env("PORT", port.to_string())
        .env("RUST_LOG", "error")
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    for (key, value) in env {
        command.env(key, value);
    }
    command.spawn().unwrap()
}

fn wait_until_up(port: u16) {
    for _ in 0..400 {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    panic!("service on port {port} did not start");
}

#[tokio::test]
async fn the_check_passes_against_the_service_processes() {
    let (users, bookings, movies) = (free_port(), free_port(), free_port());
    let _children = Children(vec![
        spawn(env!("CARGO_BIN_EXE_grpc-cinema-bookings"), bookings, &[]),
        spawn(env!("CARGO_BIN_EXE_grpc-cinema-movies"), movies, &[]),
        spawn(
            env!("CARGO_BIN_EXE_grpc-cinema-users"),
            users,
            &[
                ("BOOKINGS_URL", format!("http://127.0.0.1:{bookings}")),
                ("MOVIES_URL", format!("http://127.0.0.1:{movies}")),
            ],
        ),
    ]);
    for port in [users, bookings, movies] {
        wait_until_up(port);
    }
    let http = reqwest::Client::new();
    let checked =
        grpc_cinema::check_chris_rivers(&http, &format!("http://127.0.0.1:{users}"), async || false).await;
    assert_eq!(checked, Ok(()));
}
