//! A Filibuster server that answers each `create` with the next of a list
//! of answers and records what it was sent: the wire, against a server of
//! any kind. Included with `#[path = "support/scripted.rs"] mod scripted;`
//! by the test binaries that use it.
#![allow(dead_code, unreachable_pub)] // a module of each test crate: `pub` here is no public API

use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde_json::Value;

/// The server: its answers to come, and every record it was sent.
#[derive(Clone, Default)]
pub struct Scripted {
    answers: Arc<Mutex<Vec<Value>>>,
    sent: Arc<Mutex<Vec<Value>>>,
}

impl Scripted {
    /// Serves a server answering `answers` in turn (each with its
    /// `generated_id` added), and a connection to it.
    pub async fn connect(answers: Vec<Value>) -> (Self, filibuster::Connection) {
        let server = Self { answers: Arc::new(Mutex::new(answers)), ..Self::default() };
        let create = |State(s): State<Scripted>, Json(body): Json<Value>| async move {
            s.sent.lock().unwrap().push(body);
            let mut answer = s.answers.lock().unwrap().remove(0);
            answer["generated_id"] = serde_json::json!(s.sent.lock().unwrap().len());
            Json(answer)
        };
        let update = |State(s): State<Scripted>, Json(body): Json<Value>| async move {
            s.sent.lock().unwrap().push(body);
            Json(serde_json::json!({}))
        };
        let router = Router::new()
            .route("/filibuster/create", put(create))
            .route("/filibuster/update", post(update))
            .route(
                "/filibuster/new-test-execution/{service}",
                get(|| async { Json(serde_json::json!({"new-test-execution": false})) }),
            )
            .with_state(server.clone());
        let connection = filibuster::Connection::http(super::support::serve(router).await);
        (server, connection)
    }

    /// The records of `kind` (`invocation`, `invocation_complete`,
    /// `request_received`) it was sent, in order.
    pub fn records(&self, kind: &str) -> Vec<Value> {
        self.sent.lock().unwrap().iter().filter(|r| r["instrumentation_type"] == kind).cloned().collect()
    }
}
