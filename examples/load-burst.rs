//! A burst across processes, to check that no record is lost under load
//! (`scripts/load-burst.sh` runs it): two instrumented services, `a` calling
//! `b` once per request, each its own process, and a client firing N
//! requests at `a` at once.
//!
//! ```text
//! load-burst a PORT B_URL      # serve `a`: GET /a calls GET B_URL/b
//! load-burst b PORT            # serve `b`
//! load-burst fire N A_URL      # N concurrent GET A_URL/a; exit 1 unless all answered 200
//! load-burst count REPORT N    # from `filibuster test`'s report: records lost of those expected
//! ```
//!
//! Each request makes one call, reported three times (`create`,
//! `request_received`, `invocation_complete`): a lost `create` is a call
//! missing from the report, a lost `request_received` a call without
//! target, a lost `invocation_complete` a call without outcome. Records the
//! services said they could not deliver are counted too.

use std::net::SocketAddr;
use std::process::ExitCode;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;

/// Records per call.
const RECORDS_PER_CALL: usize = 3;

#[filibuster::call]
async fn call_b(http: &reqwest::Client, b_url: &str) -> reqwest::Result<reqwest::Response> {
    http.get(format!("{b_url}/b")).send().await
}

#[filibuster::handler(service = "a")]
async fn a(State((http, b_url)): State<(reqwest::Client, String)>) -> StatusCode {
    match call_b(&http, &b_url).await {
        Ok(response) if response.status() == StatusCode::OK => StatusCode::OK,
        _ => StatusCode::SERVICE_UNAVAILABLE,
    }
}

#[filibuster::handler(service = "b")]
async fn b() -> &'static str {
    "b"
}

async fn serve(router: Router, port: u16) -> ExitCode {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    // A deep listen backlog: the burst's connections wait rather than being
    // refused.
    let listener = match filibuster::server::bind(addr).await {
        Ok(listener) => listener,
        Err(error) => {
            eprintln!("cannot listen on {addr}: {error}");
            return ExitCode::from(2);
        }
    };
    match axum::serve(listener, router).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("{error}");
            ExitCode::FAILURE
        }
    }
}

async fn fire(n: usize, a_url: &str) -> ExitCode {
    let url = format!("{a_url}/a");
    let http = reqwest::Client::new();
    let requests: Vec<_> = (0..n)
        .map(|_| {
            let (http, url) = (http.clone(), url.clone());
            tokio::spawn(async move { http.get(url).send().await.map(|r| r.status().as_u16()) })
        })
        .collect();
    let mut failed = 0;
    for request in requests {
        match request.await {
            Ok(Ok(200)) => {}
            outcome => {
                failed += 1;
                if failed <= 10 {
                    eprintln!("a request did not answer 200: {outcome:?}");
                }
            }
        }
    }
    println!("{n} requests, {failed} did not answer 200");
    if failed == 0 { ExitCode::SUCCESS } else { ExitCode::FAILURE }
}

fn count(report: &str, n: usize) -> ExitCode {
    let report: serde_json::Value = match std::fs::read_to_string(report)
        .map_err(|e| e.to_string())
        .and_then(|text| serde_json::from_str(&text).map_err(|e| e.to_string()))
    {
        Ok(report) => report,
        Err(error) => {
            eprintln!("cannot read the report {report}: {error}");
            return ExitCode::from(2);
        }
    };
    let calls = report["executions"][0]["calls"].as_array().cloned().unwrap_or_default();
    let missing = n.saturating_sub(calls.len());
    let without_target = calls.iter().filter(|c| c["target"].is_null()).count();
    let without_outcome = calls.iter().filter(|c| c["outcome"].is_null()).count();
    let said_lost: u64 = report["errors"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|e| e["error"] == "records_lost")
        .filter_map(|e| e["count"].as_u64())
        .sum();
    let lost = missing * RECORDS_PER_CALL + without_target + without_outcome;
    println!(
        "lost/total: {lost}/{} (calls missing {missing}, request_received lost {without_target}, \
         invocation_complete lost {without_outcome}; the services said they lost {said_lost})",
        n * RECORDS_PER_CALL
    );
    if lost == 0 && said_lost == 0 { ExitCode::SUCCESS } else { ExitCode::FAILURE }
}

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let number = |s: &str| s.parse::<usize>().ok();
    match args[..] {
        ["a", port, b_url] if port.parse::<u16>().is_ok() => {
            let router = Router::new()
                .route("/a", get(a))
                .with_state((reqwest::Client::new(), b_url.trim_end_matches('/').to_owned()));
            serve(router, port.parse().unwrap_or(0)).await
        }
        ["b", port] if port.parse::<u16>().is_ok() => {
            serve(Router::new().route("/b", get(b)), port.parse().unwrap_or(0)).await
        }
        ["fire", n, a_url] if number(n).is_some() => fire(number(n).unwrap_or(0), a_url).await,
        ["count", report, n] if number(n).is_some() => count(report, number(n).unwrap_or(0)),
        _ => {
            eprintln!(
                "usage: load-burst a PORT B_URL | load-burst b PORT | load-burst fire N A_URL | \
                 load-burst count REPORT N"
            );
            ExitCode::from(2)
        }
    }
}
