//! The server's HTTP endpoints (section 4 of the protocol notes), served
//! with axum on a loopback port: well-formed records, and malformed input on
//! every endpoint, which gets a 4xx with a message and leaves the state as it
//! was.

mod support;

use filibuster::Server;
use serde_json::{Value, json};

fn invocation(execution_index: &str) -> Value {
    json!({
        "instrumentation_type": "invocation",
        "source_service_name": "a",
        "module": "reqwest",
        "method": "GET",
        "args": ["/b"],
        "kwargs": {},
        "callsite_file": "src/a.rs",
        "callsite_line": "12",
        "full_traceback": "0123456789abcdef0123456789abcdef",
        "metadata": {"timeout": 10},
        "vclock": {"a": 1},
        "origin_vclock": {},
        "execution_index": execution_index,
    })
}

struct Client {
    http: reqwest::Client,
    base: String,
}

impl Client {
    async fn start() -> Self {
        Self { http: reqwest::Client::new(), base: support::serve(Server::default().router()).await }
    }

    async fn send(&self, request: reqwest::RequestBuilder) -> (u16, Value) {
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    async fn get(&self, path: &str) -> (u16, Value) {
        self.send(self.http.get(format!("{}{path}", self.base))).await
    }

    async fn create(&self, body: impl Into<reqwest::Body>) -> (u16, Value) {
        let request = self.http.put(format!("{}/filibuster/create", self.base));
        self.send(request.header("content-type", "application/json").body(body)).await
    }

    async fn update(&self, body: impl Into<reqwest::Body>) -> (u16, Value) {
        let request = self.http.post(format!("{}/filibuster/update", self.base));
        self.send(request.header("content-type", "application/json").body(body)).await
    }
}

#[tokio::test]
async fn well_formed_records() {
    let c = Client::start().await;
    assert_eq!(c.get("/health-check").await, (200, json!({"status": "OK"})));
    assert_eq!(c.get("/filibuster/new-test-execution/a").await, (200, json!({"new-test-execution": true})));
    assert_eq!(c.get("/filibuster/new-test-execution/a").await, (200, json!({"new-test-execution": false})));
    assert_eq!(c.get("/filibuster/new-test-execution/b").await, (200, json!({"new-test-execution": true})));

    let ei = r#"[["h", 1]]"#;
    let (status, answer) = c.create(invocation(ei).to_string()).await;
    assert_eq!((status, answer), (200, json!({"generated_id": 0, "execution_index": ei})));
    let (status, answer) = c.create(invocation(r#"[["h", 2]]"#).to_string()).await;
    assert_eq!((status, answer["generated_id"].clone()), (200, json!(1)));

    // request_received as the reference sends it (a string id) and as a number.
    let received = json!({"instrumentation_type": "request_received", "generated_id": "0",
                          "execution_index": ei, "target_service_name": "b"});
    assert_eq!(c.update(received.to_string()).await, (200, json!({})));
    let complete = json!({"instrumentation_type": "invocation_complete", "generated_id": 0,
                          "execution_index": ei, "vclock": {"a": 1},
                          "return_value": {"__class__": "Response", "status_code": "200", "text": "x"}});
    assert_eq!(c.update(complete.to_string()).await, (200, json!({})));

    // Nothing was injected: a standalone server only records.
    assert_eq!(c.get("/filibuster/fault-injected").await, (200, json!({"result": false})));
    assert_eq!(c.get("/filibuster/fault-injected/b").await, (200, json!({"result": false})));
    assert_eq!(c.get("/filibuster/fault-injected/service/b").await, (200, json!({"result": false})));
}

/// The records of the other implementations' gRPC instrumentation are
/// taken: the Python reference's (`args` the method and the request's text,
/// a return value without `status_code`) and Filibuster for Java's (`args`
/// an object).
#[tokio::test]
async fn grpc_records_of_the_other_implementations() {
    let c = Client::start().await;
    let mut python = invocation(r#"[["g", 1]]"#);
    python["module"] = json!("grpc");
    python["method"] = json!("insecure_channel");
    python["args"] = json!(["/cinema.Movies/GetMovie", "id: \"creed\"\n"]);
    let (status, answer) = c.create(python.to_string()).await;
    assert_eq!(status, 200, "{answer}");
    let complete = json!({"instrumentation_type": "invocation_complete", "generated_id": answer["generated_id"],
                          "execution_index": r#"[["g", 1]]"#, "vclock": {"a": 1},
                          "return_value": {"__class__": "HelloReply"}});
    assert_eq!(c.update(complete.to_string()).await, (200, json!({})));

    let mut java = invocation(r#"[["j", 1]]"#);
    java["module"] = json!("cinema.Movies");
    java["method"] = json!("cinema.Movies/GetMovie");
    java["args"] = json!({"__class__": "GetMovieRequest", "toString": "id: \"creed\""});
    let (status, answer) = c.create(java.to_string()).await;
    assert_eq!(status, 200, "{answer}");
    let failed = json!({"instrumentation_type": "invocation_complete", "generated_id": answer["generated_id"],
                        "execution_index": r#"[["j", 1]]"#, "vclock": {"a": 1},
                        "exception": {"name": "io.grpc.StatusRuntimeException",
                                      "metadata": {"code": "UNAVAILABLE", "description": "", "cause": ""}}});
    assert_eq!(c.update(failed.to_string()).await, (200, json!({})));
}

#[tokio::test]
async fn malformed_input_gets_a_message_and_changes_nothing() {
    let c = Client::start().await;
    let ei = r#"[["h", 1]]"#;
    assert_eq!(c.create(invocation(ei).to_string()).await.0, 200);

    let mut missing = invocation(ei);
    missing.as_object_mut().unwrap().remove("vclock");
    let mut wrong_type = invocation(ei);
    wrong_type["vclock"] = json!({"a": "one"});
    for (body, expected) in [
        ("{".to_owned(), "expected an invocation record as JSON: EOF while parsing"),
        ("[]".to_owned(), "expected an invocation record as JSON: invalid length 0"),
        (missing.to_string(), "missing field `vclock`"),
        (wrong_type.to_string(), "invalid type: string \"one\", expected u64"),
    ] {
        let (status, answer) = c.create(body).await;
        assert_eq!(status, 400);
        let message = answer["error"].as_str().unwrap();
        assert!(message.contains(expected), "{message}");
    }

    let updates = [
        (
            json!("not an object").to_string(),
            400,
            "expected a request_received or invocation_complete record",
        ),
        ("{\"instrumentation_type\":".to_owned(), 400, "EOF while parsing"),
        (json!({"generated_id": 0}).to_string(), 400, "missing field `instrumentation_type`"),
        (json!({"instrumentation_type": "other"}).to_string(), 400, "instrumentation_type must be"),
        (
            json!({"instrumentation_type": "request_received", "generated_id": "0", "execution_index": ei})
                .to_string(),
            400,
            "missing field `target_service_name`",
        ),
        (
            json!({"instrumentation_type": "request_received", "generated_id": "zero",
                   "execution_index": ei, "target_service_name": "b"})
            .to_string(),
            400,
            "generated_id must be a non-negative integer",
        ),
        (
            json!({"instrumentation_type": "request_received", "generated_id": "99",
                   "execution_index": ei, "target_service_name": "b"})
            .to_string(),
            404,
            "unknown generated_id 99",
        ),
        (
            json!({"instrumentation_type": "invocation_complete", "generated_id": 5,
                   "execution_index": ei, "vclock": {}})
            .to_string(),
            404,
            "unknown generated_id 5",
        ),
        (
            json!({"instrumentation_type": "invocation_complete", "generated_id": -1,
                   "execution_index": ei, "vclock": {}})
            .to_string(),
            400,
            "expected a non-negative integer",
        ),
    ];
    for (body, expected_status, expected) in updates {
        let (status, answer) = c.update(body.clone()).await;
        assert_eq!(status, expected_status, "{body}: {answer}");
        let message = answer["error"].as_str().unwrap();
        assert!(message.contains(expected), "{body}: {message}");
    }

    // Unknown paths and methods are 404 and 405, never a panic.
    assert_eq!(c.get("/filibuster/create").await.0, 405);
    assert_eq!(c.get("/filibuster/nothing").await.0, 404);
    assert_eq!(c.get("/filibuster/new-test-execution/").await.0, 404);

    // The state is intact: the next call gets the next id, and the first
    // call can still be updated.
    let (status, answer) = c.create(invocation(r#"[["h", 2]]"#).to_string()).await;
    assert_eq!((status, answer["generated_id"].clone()), (200, json!(1)));
    let received = json!({"instrumentation_type": "request_received", "generated_id": "0",
                          "execution_index": ei, "target_service_name": "b"});
    assert_eq!(c.update(received.to_string()).await, (200, json!({})));
}

/// The client side of `new-test-execution`, over HTTP and in-process, and
/// with no server at all.
#[tokio::test]
async fn connections_ask_for_new_test_executions() {
    let server = Server::default();
    let over_http = filibuster::Connection::http(support::serve(server.router()).await);
    assert_eq!(over_http.new_test_execution("users").await, Some(true));
    assert_eq!(server.connection().new_test_execution("users").await, Some(false));
    assert_eq!(server.connection().new_test_execution("movies").await, Some(true));
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let nowhere = filibuster::Connection::http(format!("http://127.0.0.1:{port}"));
    assert_eq!(nowhere.new_test_execution("users").await, None);
}
