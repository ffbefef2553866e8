//! The cinema's functional test as a command: asks `users` at `USERS_URL`
//! (default `http://127.0.0.1:5001`) for Chris Rivers' bookings and then,
//! once `users` answered, asks the Filibuster server at `FILIBUSTER_URL`
//! (default `http://127.0.0.1:5005`) whether a fault was injected in this
//! test execution (`GET /filibuster/fault-injected`; a server that cannot be
//! reached means no). Exits 0 when the answer is the expected one, else 1.
//!
//! `cargo run -p cinema --bin cinema-check`

use cinema as app;

use std::process::ExitCode;
use std::time::Duration;

/// Whether the Filibuster server says it injected a fault; `false` when it
/// cannot be asked.
async fn fault_injected(http: &reqwest::Client, filibuster_url: &str) -> bool {
    let url = format!("{}/filibuster/fault-injected", filibuster_url.trim_end_matches('/'));
    let answer = async {
        let response = http.get(&url).timeout(Duration::from_secs(10)).send().await?.error_for_status()?;
        response.json::<serde_json::Value>().await
    };
    match answer.await {
        Ok(body) => match body.get("result").and_then(serde_json::Value::as_bool) {
            Some(result) => result,
            None => {
                eprintln!(
                    "{url} answered {body}, without a boolean \"result\"; assuming no fault was injected"
                );
                false
            }
        },
        Err(error) => {
            eprintln!("cannot ask {url} ({error}); assuming no fault was injected");
            false
        }
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let users_url = app::env_or("USERS_URL", &format!("http://127.0.0.1:{}", app::USERS_PORT));
    let filibuster_url = app::env_or(filibuster::ENV_URL, filibuster::DEFAULT_URL);
    let http = reqwest::Client::new();
    // Asked once `users` answered: the faults are injected while it serves.
    let injected = std::cell::Cell::new(false);
    let ask = async || {
        injected.set(fault_injected(&http, &filibuster_url).await);
        injected.get()
    };
    match app::check_chris_rivers(&http, &users_url, ask).await {
        Ok(()) => {
            let expected =
                if injected.get() { "503 or 404 (a fault was injected)" } else { "Chris Rivers' bookings" };
            println!("cinema check passed: {users_url} answered {expected}");
            ExitCode::SUCCESS
        }
        Err(message) => {
            println!("cinema check FAILED: {message}");
            ExitCode::FAILURE
        }
    }
}
