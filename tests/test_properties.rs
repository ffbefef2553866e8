//! Property tests: no input can panic. Whatever arrives — `X-Filibuster-*`
//! headers, records sent to the server (as bytes, as JSON values, fed to a
//! real server in-process or over its HTTP router), analysis files,
//! counterexample files — comes out as a value or a clear error.
//!
//! Every property runs in plain `cargo test`; the case counts (`config`)
//! split a budget of about 120k cases, about 20 s of CPU in a debug build
//! (about 10 s on two idle cores).

use std::cell::RefCell;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, Request};
use axum::routing::get;
use filibuster::headers::{
    EXECUTION_INDEX, FORCED_SLEEP, FilibusterHeaders, GENERATED_ID, MAX_FORCED_SLEEP, ORIGIN_VCLOCK,
    REQUEST_ID, VCLOCK,
};
use filibuster::records::{CreateResponse, Invocation, Update};
use filibuster::server::FaultSite;
use filibuster::transport::Transport;
use filibuster::{Counterexample, ExecutionIndex, Explorer, FaultModel, ReplayOutcome, Server, VectorClock};
use futures_util::FutureExt;
use proptest::prelude::*;
use proptest::sample::select;
use proptest::test_runner::RngAlgorithm;
use serde_json::{Map, Value, json};
use tower::ServiceExt;

mod support;

// ---------------------------------------------------------------------------
// Strategies.

/// Any JSON value, a few levels deep.
fn arb_json() -> BoxedStrategy<Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        // Non-finite floats become null.
        any::<f64>().prop_map(Value::from),
        text(12).prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec((key(), inner), 0..4)
                .prop_map(|entries| Value::Object(entries.into_iter().collect())),
        ]
    })
    .boxed()
}

/// Any string of at most `max` characters (any Unicode scalar values;
/// quicker to draw than the regex `.{0,max}`).
fn text(max: usize) -> impl Strategy<Value = String> + Clone {
    prop::collection::vec(any::<char>(), 0..=max).prop_map(String::from_iter)
}

/// Keys of the protocol's records and files, or anything.
fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        select(
            &[
                "instrumentation_type",
                "generated_id",
                "execution_index",
                "vclock",
                "origin_vclock",
                "status_code",
                "return_value",
                "exception",
                "forced_exception",
                "failure_metadata",
                "metadata",
                "name",
                "sleep",
                "abort",
                "timeout",
                "pattern",
                "exceptions",
                "errors",
                "service_name",
                "types",
                "restrictions",
                "failures",
                "log",
                "TestExecution",
            ][..]
        )
        .prop_map(str::to_owned),
        text(8),
    ]
}

/// A string that is 100 000 characters long.
fn huge_string() -> String {
    "é".repeat(50_000) + &"a".repeat(50_000)
}

/// JSON values that sit at the edges of what the protocol's fields hold:
/// huge, negative, fractional and non-numeric counts, huge strings, near
/// misses of clocks and execution indices, or anything.
fn interesting() -> BoxedStrategy<Value> {
    prop_oneof![
        50 => arb_json(),
        4 => select(vec![
            json!(u64::MAX),
            json!(i64::MIN),
            json!(-1),
            json!(0),
            json!(1.5),
            json!(1e300),
            json!(-1e300),
            json!(""),
            json!(" 7 "),
            json!("18446744073709551616"),
            json!("-1"),
            json!("NaN"),
            json!("inf"),
            json!({"users": u64::MAX}),
            json!({"users": -1}),
            json!([["h", 1]]),
            json!([[["h", 1]]]),
            json!({"status_code": "503"}),
            json!({"return_value": {"status_code": 503}}),
            json!({"name": "reqwest.timeout", "metadata": {"abort": false, "sleep": 1e300}}),
        ]),
        1 => Just(Value::from(huge_string())),
        8 => "[0-9]{1,30}".prop_map(Value::from),
        4 => ei_text().prop_map(Value::from),
        4 => vclock_text().prop_map(Value::from),
        4 => vclock_text().prop_map(|t| serde_json::from_str(&t).unwrap_or(Value::Null)),
    ]
    .boxed()
}

/// The text of a JSON count: valid ones, and every kind of near miss
/// (0, negative, past `u32`/`u64`, fractional, exponents, strings, NaN).
fn count_text() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => (1u32..=u32::MAX).prop_map(|n| n.to_string()),
        2 => any::<u64>().prop_map(|n| n.to_string()),
        2 => select(&[
            "0", "4294967295", "4294967296", "18446744073709551615", "18446744073709551616",
            "99999999999999999999999999999999", "-1", "-0", "1.0", "1e3", "1e400", "-1e400", "NaN",
            "Infinity", "\"1\"", "null", "true", "[1]", "{}", "",
        ][..])
        .prop_map(str::to_owned),
        1 => any::<i64>().prop_map(|n| n.to_string()),
        1 => any::<f64>().prop_map(|f| format!("{f:?}")),
        1 => "-?[0-9]{1,40}(\\.[0-9]{1,5})?([eE][-+]?[0-9]{1,3})?",
    ]
}

/// The JSON text of a hash (a string), or something else.
fn hash_text() -> impl Strategy<Value = String> {
    prop_oneof![
        200 => any::<u128>().prop_map(|h| format!("\"{h:032x}\"")),
        100 => text(20).prop_map(|s| serde_json::to_string(&s).unwrap()),
        50 => select(&["1", "null", "[\"h\"]", "{}", "\"\"", "\"\\ud800\"", "\"\\u0000\""][..]).prop_map(str::to_owned),
        1 => Just(serde_json::to_string(&huge_string()).unwrap()),
    ]
}

/// One step of an execution index, or a near miss of one.
fn step_text() -> impl Strategy<Value = String> {
    prop_oneof![
        8 => (hash_text(), count_text()).prop_map(|(h, c)| format!("[{h}, {c}]")),
        1 => hash_text().prop_map(|h| format!("[{h}]")),
        1 => (hash_text(), count_text(), count_text()).prop_map(|(h, c, d)| format!("[{h}, {c}, {d}]")),
        1 => (hash_text(), count_text()).prop_map(|(h, c)| format!("[[{h}, {c}]]")),
        1 => (hash_text(), count_text()).prop_map(|(h, c)| format!("{{\"hash\": {h}, \"count\": {c}}}")),
        1 => (0usize..300).prop_map(|d| "[".repeat(d) + &"]".repeat(d)),
    ]
}

/// Cuts `text` short, or adds to it, now and then.
fn damaged(text: String, damage: u8, at: usize) -> String {
    let cut = |text: &str| {
        let mut at = at % (text.len() + 1);
        while !text.is_char_boundary(at) {
            at -= 1;
        }
        text[..at].to_owned()
    };
    match damage {
        0 => cut(&text),
        1 => text + ",",
        2 => text + " x",
        3 => format!(" {text} "),
        _ => text,
    }
}

/// The text of an execution index, often a near miss.
fn ei_text() -> BoxedStrategy<String> {
    (prop::collection::vec(step_text(), 0..6), 0u8..24, any::<usize>())
        .prop_map(|(steps, damage, at)| damaged(format!("[{}]", steps.join(", ")), damage, at))
        .boxed()
}

/// The text of a vector clock, often a near miss.
fn vclock_text() -> BoxedStrategy<String> {
    let service = prop_oneof![
        200 => select(&["users", "a", "b", ""][..]).prop_map(|s| serde_json::to_string(s).unwrap()),
        100 => text(10).prop_map(|s| serde_json::to_string(&s).unwrap()),
        1 => Just(serde_json::to_string(&huge_string()).unwrap()),
    ];
    let object = prop::collection::vec((service, count_text()), 0..6).prop_map(|entries| {
        let entries: Vec<String> = entries.into_iter().map(|(s, c)| format!("{s}: {c}")).collect();
        format!("{{{}}}", entries.join(", "))
    });
    let other =
        select(&["[]", "[1]", "null", "1", "\"x\"", "{\"a\": {\"b\": 1}}", "{\"a\": [1]}", "{1: 2}"][..])
            .prop_map(str::to_owned);
    (prop_oneof![8 => object, 1 => other], 0u8..24, any::<usize>())
        .prop_map(|(text, damage, at)| damaged(text, damage, at))
        .boxed()
}

/// Texts of a forced sleep.
fn sleep_text() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<f64>().prop_map(|f| f.to_string()),
        any::<f64>().prop_map(|f| format!("{f:e}")),
        "[-+ ]?(inf|infinity|NaN|nan|[0-9]{0,30}(\\.[0-9]{0,10})?(e[-+]?[0-9]{1,4})?) ?",
        select(&["1e400", "-0", "-0.0", "0x10", "30.000000001", "1_000", "", " "][..])
            .prop_map(str::to_owned),
    ]
}

/// The bytes of a header value: visible ASCII, near misses of each
/// header's form, or any bytes.
fn header_bytes() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        2 => prop::collection::vec(b' '..=b'~', 0..30),
        2 => vclock_text().prop_map(String::into_bytes),
        2 => ei_text().prop_map(String::into_bytes),
        1 => count_text().prop_map(String::into_bytes),
        1 => sleep_text().prop_map(String::into_bytes),
        1 => prop::collection::vec(any::<u8>(), 0..40),
    ]
}

const HEADERS: [&str; 6] = [GENERATED_ID, VCLOCK, ORIGIN_VCLOCK, EXECUTION_INDEX, REQUEST_ID, FORCED_SLEEP];

/// A header map with some of the six Filibuster headers, each with any
/// value a header can hold.
fn filibuster_header_map() -> impl Strategy<Value = HeaderMap> {
    prop::collection::vec(prop::option::weighted(0.8, header_bytes()), 6).prop_map(|values| {
        let mut map = HeaderMap::new();
        for (name, value) in HEADERS.iter().zip(values) {
            if let Some(value) = value.and_then(|v| HeaderValue::from_bytes(&v).ok()) {
                map.insert(*name, value);
            }
        }
        map
    })
}

// ---------------------------------------------------------------------------
// Records: valid templates, edited.

fn invocation_template(execution_index: &str) -> Value {
    json!({
        "instrumentation_type": "invocation", "source_service_name": "users", "module": "reqwest",
        "method": "GET", "args": ["/b"], "kwargs": {}, "callsite_file": "app.rs", "callsite_line": "12",
        "full_traceback": "f00", "metadata": {"timeout": 10.0}, "vclock": {"users": 1},
        "origin_vclock": {}, "execution_index": execution_index,
    })
}

fn received_template(generated_id: u64, execution_index: &str) -> Value {
    json!({
        "instrumentation_type": "request_received", "generated_id": generated_id.to_string(),
        "execution_index": execution_index, "target_service_name": "b",
    })
}

fn complete_template(generated_id: u64, execution_index: &str) -> Value {
    json!({
        "instrumentation_type": "invocation_complete", "generated_id": generated_id,
        "execution_index": execution_index, "vclock": {"users": 1},
        "return_value": {"__class__": "Response", "status_code": "200", "text": "d41d8cd98f00b204e9800998ecf8427e"},
    })
}

fn create_response_template() -> Value {
    json!({
        "generated_id": 3, "execution_index": "[[\"h\", 1]]",
        "forced_exception": {"name": "reqwest.timeout", "metadata": {"abort": false, "sleep": 1}},
        "failure_metadata": {"return_value": {"status_code": "503"}},
    })
}

/// Where an edit lands in a record.
const PATHS: &[&[&str]] = &[
    &["instrumentation_type"],
    &["source_service_name"],
    &["module"],
    &["method"],
    &["args"],
    &["kwargs"],
    &["callsite_file"],
    &["callsite_line"],
    &["full_traceback"],
    &["metadata"],
    &["metadata", "timeout"],
    &["metadata", "ssl"],
    &["vclock"],
    &["vclock", "users"],
    &["origin_vclock"],
    &["execution_index"],
    &["generated_id"],
    &["target_service_name"],
    &["return_value"],
    &["return_value", "status_code"],
    &["return_value", "text"],
    &["return_value", "__class__"],
    &["exception"],
    &["exception", "name"],
    &["exception", "metadata"],
    &["forced_exception"],
    &["forced_exception", "name"],
    &["forced_exception", "metadata"],
    &["forced_exception", "metadata", "sleep"],
    &["forced_exception", "metadata", "abort"],
    &["failure_metadata"],
    &["failure_metadata", "return_value"],
    &["failure_metadata", "return_value", "status_code"],
    &["extra"],
];

#[derive(Clone, Debug)]
enum Edit {
    Remove,
    Set(Value),
}

fn edit() -> impl Strategy<Value = (&'static [&'static str], Edit)> {
    let edit = prop_oneof![
        1 => Just(Edit::Remove),
        4 => interesting().prop_map(Edit::Set),
        1 => (0u64..6).prop_map(|id| Edit::Set(Value::from(id))),
        1 => (0u64..6).prop_map(|id| Edit::Set(Value::from(id.to_string()))),
        1 => ei_pool().prop_map(|ei| Edit::Set(Value::from(ei))),
    ];
    (select(PATHS), edit)
}

fn apply(value: &mut Value, path: &[&str], edit: &Edit) {
    let Some((last, parents)) = path.split_last() else { return };
    let mut at = value;
    for parent in parents {
        let Value::Object(map) = at else { return };
        at = map.entry(parent.to_string()).or_insert_with(|| json!({}));
    }
    let Value::Object(map) = at else { return };
    match edit {
        Edit::Remove => {
            map.remove(*last);
        }
        Edit::Set(new) => {
            map.insert(last.to_string(), new.clone());
        }
    }
}

/// Execution indices that collide often, and a few that are not ones.
fn ei_pool() -> impl Strategy<Value = String> {
    select(
        &[
            "[]",
            "[[\"h\", 1]]",
            "[[\"h\", 2]]",
            "[[\"h\", 1], [\"g\", 1]]",
            "[[\"g\", 1]]",
            "not json",
            "",
            "[[\"h\", 0]]",
        ][..],
    )
    .prop_map(str::to_owned)
}

fn edited(template: impl Strategy<Value = Value>) -> impl Strategy<Value = Value> {
    (template, prop::collection::vec(edit(), 0..4)).prop_map(|(mut value, edits)| {
        for (path, edit) in &edits {
            apply(&mut value, path, edit);
        }
        value
    })
}

/// A record for `create`, `update` or `new-test-execution`, as JSON, near
/// the valid form.
#[derive(Clone, Debug)]
enum Op {
    Create(Value),
    Update(Value),
    NewTestExecution(String),
}

fn op() -> impl Strategy<Value = Op> {
    let id = 0u64..6;
    prop_oneof![
        4 => edited(ei_pool().prop_map(|ei| invocation_template(&ei))).prop_map(Op::Create),
        2 => edited((id.clone(), ei_pool()).prop_map(|(id, ei)| received_template(id, &ei))).prop_map(Op::Update),
        3 => edited((id, ei_pool()).prop_map(|(id, ei)| complete_template(id, &ei))).prop_map(Op::Update),
        1 => prop_oneof![Just("users".to_owned()), text(10)].prop_map(Op::NewTestExecution),
    ]
}

/// Sends `ops` to `server` through its [`Transport`]: what an in-process
/// service does. Records that do not parse are skipped. Returns the
/// parsed creates and their answers.
async fn feed(server: &Server, ops: &[Op]) -> Vec<(Invocation, CreateResponse)> {
    let mut created = Vec::new();
    for op in ops {
        match op {
            Op::Create(value) => {
                if let Ok(invocation) = serde_json::from_value::<Invocation>(value.clone()) {
                    let answer =
                        server.create(&invocation).await.expect("the in-process server answers create");
                    created.push((invocation, answer));
                }
            }
            Op::Update(value) => {
                if let Ok(update) = serde_json::from_value::<Update>(value.clone()) {
                    // Ok, or a clear rejection (an unknown id, say).
                    if let Err(error) = server.update(&update).await {
                        assert!(!error.to_string().is_empty());
                    }
                }
            }
            Op::NewTestExecution(service) => {
                server.new_test_execution(service).await.expect("the in-process server answers");
            }
        }
    }
    created
}

// ---------------------------------------------------------------------------
// Helpers.

/// The built-in fault model, compiled once: compiling its patterns takes
/// longer than a case of most properties.
fn default_model() -> FaultModel {
    static MODEL: std::sync::OnceLock<FaultModel> = std::sync::OnceLock::new();
    MODEL.get_or_init(FaultModel::default).clone()
}

/// `cases` cases, drawn with XorShift: proptest's default ChaCha took a
/// third of the time of these properties in a debug build.
fn config(cases: u32) -> ProptestConfig {
    ProptestConfig { cases, rng_algorithm: RngAlgorithm::XorShift, ..ProptestConfig::default() }
}

/// Runs `future` on this thread's runtime (one per test thread: proptest
/// runs a property's cases on one thread).
fn block_on<F: Future>(future: F) -> F::Output {
    thread_local! {
        static RUNTIME: tokio::runtime::Runtime =
            tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    }
    RUNTIME.with(|runtime| runtime.block_on(future))
}

/// The entries of a JSON object in the order of the text, duplicates kept.
struct Entries(Vec<(String, Value)>);

impl<'de> serde::Deserialize<'de> for Entries {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = Entries;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Entries, A::Error> {
                let mut entries = Vec::new();
                while let Some(entry) = map.next_entry()? {
                    entries.push(entry);
                }
                Ok(Entries(entries))
            }
        }
        deserializer.deserialize_map(Visitor)
    }
}

/// What `VectorClock::parse` must say of `text`: every entry (duplicates
/// too) a count that fits a `u64`, the last of a name winning; `None` for
/// an error.
fn expected_clock(text: &str) -> Option<std::collections::BTreeMap<String, u64>> {
    let Entries(entries) = serde_json::from_str(text).ok()?;
    entries.into_iter().map(|(k, v)| Some((k, v.as_u64()?))).collect()
}

/// Whether two JSON values are equal, numbers up to a relative 1e-12:
/// serde_json reads some floats back one unit in the last place off.
fn nearly_equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) if x != y => match (x.as_f64(), y.as_f64()) {
            (Some(x), Some(y)) => (x - y).abs() <= 1e-12 * x.abs().max(y.abs()),
            _ => false,
        },
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(x, y)| nearly_equal(x, y))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| nearly_equal(v, w)))
        }
        _ => a == b,
    }
}

/// Whether `counterexample` reads back from its own text.
fn reads_back(counterexample: &Counterexample) -> bool {
    let Ok(again) = Counterexample::parse(&counterexample.to_json()) else { return false };
    let value = |c: &Counterexample| {
        json!({
            "test": c.functional_test, "faults": c.faults, "log": c.log, "response_log": c.response_log,
        })
    };
    nearly_equal(&value(&again), &value(counterexample))
}

/// What `ExecutionIndex::parse` must say of `text`.
fn expected_ei(text: &str) -> Option<Vec<(String, u32)>> {
    let Ok(Value::Array(steps)) = serde_json::from_str::<Value>(text) else { return None };
    steps
        .iter()
        .map(|step| match step.as_array()?.as_slice() {
            [Value::String(hash), count] => {
                let count = u32::try_from(count.as_u64()?).ok().filter(|&c| c > 0)?;
                Some((hash.clone(), count))
            }
            _ => None,
        })
        .collect()
}

/// What the receiving handler must make of a forced-sleep header.
fn expected_sleep(text: &str) -> Option<Duration> {
    let seconds: f64 = text.trim().parse().ok()?;
    (seconds.is_finite() && seconds >= 0.0)
        .then(|| Duration::from_secs_f64(seconds.min(MAX_FORCED_SLEEP.as_secs_f64())))
}

/// The answer of a real server to a request, as (status, body).
async fn answer(router: Router, request: Request<Body>) -> (u16, Vec<u8>) {
    let response = router.oneshot(request).await.unwrap();
    let status = response.status().as_u16();
    let body = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
    (status, body.to_vec())
}

// ---------------------------------------------------------------------------
// Headers.

proptest! {
    #![proptest_config(config(8_000))]

    /// Any value of any Filibuster header is read or ignored, as said.
    #[test]
    fn any_header_is_read_or_ignored(map in filibuster_header_map()) {
        let read = FilibusterHeaders::from_headers(&map);
        let text = |name: &str| map.get(name).and_then(|v| v.to_str().ok());
        prop_assert_eq!(read.generated_id, text(GENERATED_ID).and_then(|s| s.trim().parse::<u64>().ok()));
        prop_assert_eq!(read.vclock.is_some(), text(VCLOCK).and_then(expected_clock).is_some());
        prop_assert_eq!(read.origin_vclock.is_some(), text(ORIGIN_VCLOCK).and_then(expected_clock).is_some());
        prop_assert_eq!(read.execution_index.is_some(), text(EXECUTION_INDEX).and_then(expected_ei).is_some());
        prop_assert_eq!(read.forced_sleep, text(FORCED_SLEEP).and_then(expected_sleep));
        prop_assert!(read.forced_sleep.is_none_or(|sleep| sleep <= MAX_FORCED_SLEEP));
        if let Some(id) = &read.request_id {
            prop_assert!(!id.is_empty() && id.trim() == id);
        }
        prop_assert_eq!(read.is_instrumented_call(), read.execution_index.is_some());
    }
}

proptest! {
    #![proptest_config(config(15_000))]

    /// A clock parses exactly when it is an object of non-negative integers
    /// that fit a `u64`; it prints back to itself; incrementing any entry
    /// saturates at `u64::MAX`.
    #[test]
    fn clocks_parse_or_fail_and_saturate(text in vclock_text()) {
        let parsed = VectorClock::parse(&text);
        let expected = expected_clock(&text);
        prop_assert_eq!(parsed.is_ok(), expected.is_some(), "{}", text);
        if let (Ok(mut clock), Some(entries)) = (parsed, expected) {
            for (service, count) in &entries {
                prop_assert_eq!(clock.get(service), *count);
            }
            prop_assert_eq!(VectorClock::parse(&clock.to_wire()).unwrap(), clock.clone());
            let before = clock.clone();
            for (service, count) in &entries {
                clock.increment(service);
                prop_assert_eq!(clock.get(service), count.saturating_add(1));
            }
            clock.increment("users");
            prop_assert!(clock.descends(&before));
            let mut merged = before.clone();
            merged.merge(&clock);
            prop_assert_eq!(merged, clock);
        }
    }

    /// An execution index parses exactly when it is a list of
    /// `[string, count]` pairs with counts from 1 to `u32::MAX`, and prints
    /// back to itself.
    #[test]
    fn execution_indices_parse_or_fail(text in ei_text()) {
        let parsed = ExecutionIndex::parse(&text);
        let expected = expected_ei(&text);
        prop_assert_eq!(parsed.is_ok(), expected.is_some(), "{}", text);
        if let (Ok(ei), Some(steps)) = (parsed, expected) {
            let got: Vec<(String, u32)> = ei.steps().iter().map(|s| (s.hash.clone(), s.count)).collect();
            prop_assert_eq!(got, steps);
            prop_assert_eq!(ExecutionIndex::parse(&ei.to_wire()).unwrap(), ei.clone());
            prop_assert_eq!(ExecutionIndex::parse(&ei.child("h", u32::MAX).to_wire()).unwrap().len(), ei.len() + 1);
        }
    }
}

proptest! {
    #![proptest_config(config(25_000))]

    /// A forced sleep is honoured when it is a finite, non-negative number
    /// of seconds, bounded by `MAX_FORCED_SLEEP`, and ignored otherwise.
    #[test]
    fn forced_sleeps_are_bounded_or_ignored(text in sleep_text()) {
        let Ok(value) = HeaderValue::from_str(&text) else { return Ok(()) };
        let mut map = HeaderMap::new();
        map.insert(FORCED_SLEEP, value);
        let sleep = FilibusterHeaders::from_headers(&map).forced_sleep;
        prop_assert_eq!(sleep, expected_sleep(&text));
        prop_assert!(sleep.is_none_or(|s| s <= MAX_FORCED_SLEEP));
    }
}

/// The service of the handler property.
#[derive(Clone)]
struct App {
    http: reqwest::Client,
    downstream: String,
}

/// Calls the downstream service once and says what came back.
#[filibuster::handler(service = "users")]
async fn users(State(app): State<App>) -> String {
    match call_downstream(&app).await {
        Ok(response) => response.status().as_u16().to_string(),
        Err(error) => format!("error: {error}"),
    }
}

#[filibuster::call]
async fn call_downstream(app: &App) -> reqwest::Result<reqwest::Response> {
    app.http.get(format!("{}/d", app.downstream)).send().await
}

thread_local! {
    /// The instrumented `users` router, connected in-process to a server,
    /// calling a downstream service on loopback.
    static USERS: RefCell<Option<Router>> = const { RefCell::new(None) };
}

fn users_router() -> Router {
    USERS.with(|cell| {
        cell.borrow_mut()
            .get_or_insert_with(|| {
                filibuster::enable();
                let downstream = block_on(support::serve(Router::new().fallback(|| async { "ok" })));
                let app = App { http: reqwest::Client::new(), downstream };
                Router::new()
                    .route("/h", get(users))
                    .with_state(app)
                    .layer(Server::default().connection().layer())
            })
            .clone()
    })
}

proptest! {
    #![proptest_config(config(1_000))]

    /// A real instrumented handler that makes a call answers normally
    /// whatever Filibuster headers it gets. (A forced sleep it would honour
    /// is left out: `any_header_is_read_or_ignored` bounds it.)
    #[test]
    fn an_instrumented_handler_answers_any_headers(mut map in filibuster_header_map()) {
        if FilibusterHeaders::from_headers(&map).forced_sleep.is_some_and(|s| s > Duration::from_millis(1)) {
            map.remove(FORCED_SLEEP);
        }
        let mut request = Request::get("/h").body(Body::empty()).unwrap();
        *request.headers_mut() = map;
        let (status, body) = block_on(answer(users_router(), request));
        prop_assert_eq!((status, String::from_utf8_lossy(&body).into_owned()), (200, "200".to_owned()));
    }
}

// ---------------------------------------------------------------------------
// Anything at all.

/// Bytes that look like JSON now and then.
fn any_bytes() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..256),
        prop::collection::vec(select(&b"[]{}\",:0123456789abcnlrstuefEeE_ .+-\\"[..]), 0..200),
        text(100).prop_map(String::into_bytes),
        arb_json().prop_map(|v| serde_json::to_vec(&v).unwrap()),
    ]
}

proptest! {
    #![proptest_config(config(45_000))]

    /// Any bytes are a record, clock, index, analysis file or
    /// counterexample file, or an error; never a panic.
    #[test]
    fn any_bytes_are_a_value_or_an_error(bytes in any_bytes()) {
        if let Ok(invocation) = serde_json::from_slice::<Invocation>(&bytes) {
            serde_json::from_slice::<Invocation>(&serde_json::to_vec(&invocation).unwrap()).unwrap();
        }
        if let Ok(update) = serde_json::from_slice::<Update>(&bytes) {
            serde_json::from_slice::<Update>(&serde_json::to_vec(&update).unwrap()).unwrap();
        }
        if let Ok(answer) = serde_json::from_slice::<CreateResponse>(&bytes) {
            serde_json::from_slice::<CreateResponse>(&serde_json::to_vec(&answer).unwrap()).unwrap();
        }
        if let Ok(text) = std::str::from_utf8(&bytes) {
            let _ = VectorClock::parse(text);
            let _ = ExecutionIndex::parse(text);
            if let Err(error) = FaultModel::from_json(text, Path::new("analysis.json")) {
                prop_assert!(error.to_string().starts_with("analysis file analysis.json"));
            }
            if let Err(error) = Counterexample::parse(text) {
                prop_assert!(!error.is_empty());
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Records.

proptest! {
    #![proptest_config(config(3_500))]

    /// Records near the valid forms parse or fail, and what parses prints
    /// back to something that parses.
    #[test]
    fn records_parse_or_fail(op in op(), answer in edited(Just(create_response_template())), junk in arb_json()) {
        let value = match &op {
            Op::Create(value) | Op::Update(value) => value.clone(),
            Op::NewTestExecution(service) => Value::from(service.clone()),
        };
        for value in [value, answer, junk] {
            let bytes = serde_json::to_vec(&value).unwrap();
            let invocation = serde_json::from_value::<Invocation>(value.clone());
            prop_assert_eq!(invocation.is_ok(), serde_json::from_slice::<Invocation>(&bytes).is_ok());
            if let Ok(invocation) = invocation {
                serde_json::from_value::<Invocation>(serde_json::to_value(&invocation).unwrap()).unwrap();
            }
            let update = serde_json::from_value::<Update>(value.clone());
            prop_assert_eq!(update.is_ok(), serde_json::from_slice::<Update>(&bytes).is_ok());
            if let Ok(update) = update {
                serde_json::from_value::<Update>(serde_json::to_value(&update).unwrap()).unwrap();
            }
            let create = serde_json::from_value::<CreateResponse>(value.clone());
            prop_assert_eq!(create.is_ok(), serde_json::from_slice::<CreateResponse>(&bytes).is_ok());
            if let Ok(create) = create {
                serde_json::from_value::<CreateResponse>(serde_json::to_value(&create).unwrap()).unwrap();
            }
        }
    }
}

proptest! {
    #![proptest_config(config(2_000))]

    /// A real server takes any sequence of parsed records through its
    /// `Transport`: it numbers the calls in order, echoes their indices,
    /// and rejects bad updates with an error.
    #[test]
    fn a_server_takes_any_records(ops in prop::collection::vec(op(), 0..12)) {
        let server = Server::new(default_model());
        let created = feed(&server, &ops).now_or_never().expect("the in-process server never waits");
        for (n, (invocation, answer)) in created.iter().enumerate() {
            prop_assert_eq!(answer.generated_id, n as u64);
            prop_assert_eq!(answer.execution_index.as_deref(), Some(invocation.execution_index.as_str()));
            prop_assert!(answer.forced_exception.is_none() && answer.failure_metadata.is_none());
        }
        prop_assert!(!server.fault_injected());
        let _ = server.fault_injected_on("b");
    }
}

/// Paths of the server's endpoints, with any service name, and others.
fn path() -> impl Strategy<Value = String> {
    let encoded = prop::collection::vec(any::<u8>(), 0..12).prop_map(|bytes| {
        bytes
            .iter()
            .map(|&b| if b.is_ascii_alphanumeric() { char::from(b).to_string() } else { format!("%{b:02X}") })
            .collect::<String>()
    });
    prop_oneof![
        4 => select(&[
            "/", "/health-check", "/filibuster/create", "/filibuster/update", "/filibuster/fault-injected",
            "/filibuster/new-test-execution/users", "/filibuster/fault-injected/users",
            "/filibuster/fault-injected/service/users",
        ][..])
        .prop_map(str::to_owned),
        2 => (select(&[
            "/filibuster/new-test-execution/", "/filibuster/fault-injected/",
            "/filibuster/fault-injected/service/",
        ][..]), encoded)
            .prop_map(|(prefix, service)| format!("{prefix}{service}")),
        1 => "/[a-zA-Z0-9/_.-]{0,30}",
    ]
}

fn method() -> impl Strategy<Value = Method> {
    prop_oneof![
        4 => select(vec![Method::GET, Method::PUT, Method::POST]),
        1 => select(vec![Method::DELETE, Method::PATCH, Method::OPTIONS, Method::HEAD]),
        1 => "[A-Z]{1,8}".prop_map(|m| Method::from_bytes(m.as_bytes()).unwrap()),
    ]
}

fn body() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        4 => op().prop_map(|op| match op {
            Op::Create(v) | Op::Update(v) => serde_json::to_vec(&v).unwrap(),
            Op::NewTestExecution(s) => s.into_bytes(),
        }),
        1 => any_bytes(),
        1 => Just(Vec::new()),
    ]
}

thread_local! {
    /// One server per test thread, whose state grows across cases.
    static SERVER: Server = Server::default();
}

proptest! {
    #![proptest_config(config(2_000))]

    /// The server's HTTP endpoints answer any request with a status below
    /// 500 and a JSON body.
    #[test]
    fn the_router_answers_any_request_with_json(method in method(), path in path(), body in body()) {
        let router = SERVER.with(Server::router);
        let head = method == Method::HEAD;
        let request = Request::builder().method(method).uri(&path).body(Body::from(body)).unwrap();
        let (status, body) = block_on(answer(router, request));
        prop_assert!(status < 500, "{} {}", status, String::from_utf8_lossy(&body));
        if !head {
            prop_assert!(
                serde_json::from_slice::<Value>(&body).is_ok(),
                "{} answered {} with a body that is not JSON: {:?}", path, status, String::from_utf8_lossy(&body)
            );
        }
    }
}

// ---------------------------------------------------------------------------
// Exploring and replaying arbitrary records.

/// A fresh file name for this thread.
fn scratch_file(what: &str) -> PathBuf {
    let thread =
        format!("{:?}", std::thread::current().id()).replace(|c: char| !c.is_ascii_alphanumeric(), "");
    std::env::temp_dir().join(format!("filibuster-properties-{}-{thread}-{what}.json", std::process::id()))
}

/// A functional test that sends `ops` to the explorer's server and fails
/// when a fault was injected, if `fail_on_fault`.
fn test_feeding(
    explorer: &Explorer,
    ops: Vec<Op>,
    fail_on_fault: bool,
) -> impl FnMut(filibuster::TestContext) -> std::pin::Pin<Box<dyn Future<Output = Result<(), String>>>> {
    let server = explorer.server().clone();
    move |ctx| {
        let (server, ops) = (server.clone(), ops.clone());
        Box::pin(async move {
            feed(&server, &ops).await;
            if fail_on_fault && ctx.fault_injected() { Err("a fault was injected".into()) } else { Ok(()) }
        })
    }
}

proptest! {
    #![proptest_config(config(500))]

    /// An explorer whose functional test sends arbitrary records explores
    /// without a panic; its report renders; the counterexample it writes
    /// loads and replays.
    #[test]
    fn exploring_arbitrary_records(ops in prop::collection::vec(op(), 0..8), fail_on_fault: bool, reduction: bool) {
        let file = scratch_file("counterexample");
        let explorer = Explorer::with_fault_model(default_model())
            .grace(Duration::ZERO)
            .max_executions(8)
            .dynamic_reduction(reduction)
            .allow_no_calls(true)
            .allow_nondeterminism(true)
            .counterexample_file(&file);
        let report = block_on(explorer.run(test_feeding(&explorer, ops.clone(), fail_on_fault)));
        let _ = (report.verdict(), report.summary(), report.failure_message());
        serde_json::to_string(&report).unwrap();
        if let Some(path) = &report.counterexample_file {
            let counterexample = Counterexample::load(path).expect("a written counterexample loads");
            std::fs::remove_file(path).unwrap();
            prop_assert!(reads_back(&counterexample), "{:?}", counterexample);
            let replayer = Explorer::with_fault_model(default_model()).grace(Duration::ZERO).allow_no_calls(true).replay(counterexample);
            let replay = block_on(replayer.run(test_feeding(&replayer, ops, fail_on_fault)));
            let _ = (replay.verdict(), replay.summary(), replay.failure_message());
            prop_assert!(replay.replay.is_some());
        }
    }
}

// ---------------------------------------------------------------------------
// Analysis files.

/// Regular expressions: valid, invalid, and odd.
fn pattern() -> impl Strategy<Value = Value> {
    prop_oneof![
        3 => select(&[
            "reqwest\\.(GET|PUT|POST|HEAD|DELETE|PATCH|OPTIONS)", ".*", "", "requests\\.(get|post)", "(", "[",
            "a{2,1}", "\\", "(?P<x>a)", "a)|(b", "\\p{Nope}", "(?i)REQWEST", "a**", "(?-u:\\xff)", "\\w{10}",
            "\\bb\\B", "(a*)*$", "^", "$", ".{10}",
        ][..])
        .prop_map(Value::from),
        2 => prop::collection::vec(select(&b"aAzZ09().*+?|[]{}\\^$,:-pPwWdsu"[..]), 0..20)
            .prop_map(|bytes| Value::from(String::from_utf8(bytes).unwrap())),
        1 => interesting(),
    ]
}

/// An object of `fields`, each present or not.
fn object(fields: Vec<(&str, Option<Value>)>) -> Value {
    Value::Object(fields.into_iter().filter_map(|(k, v)| Some((k.to_owned(), v?))).collect())
}

fn exception_fault() -> BoxedStrategy<Value> {
    let name = prop_oneof![
        3 => select(&["reqwest.connect", "reqwest.timeout", "requests.exceptions.Timeout", ""][..])
            .prop_map(Value::from),
        1 => interesting(),
    ];
    let expression = select(
        &[
            "@expr(metadata['timeout']-1)",
            "@expr(metadata['timeout']+1)",
            "@expr(metadata['timeout'])",
            "@expr(",
        ][..],
    )
    .prop_map(Value::from);
    let metadata = prop_oneof![
        3 => (prop_oneof![Just(Value::Bool(false)), interesting()], prop_oneof![expression, interesting()])
            .prop_map(|(abort, sleep)| json!({"abort": abort, "sleep": sleep})),
        1 => interesting(),
    ];
    let restrictions = prop_oneof![
        3 => select(&["timeout", "ssl", "other"][..]).prop_map(Value::from),
        1 => interesting(),
    ];
    let fault = (name, prop::option::of(metadata), prop::option::of(restrictions)).prop_map(
        |(name, metadata, restrictions)| {
            object(vec![("name", Some(name)), ("metadata", metadata), ("restrictions", restrictions)])
        },
    );
    prop_oneof![10 => fault, 1 => interesting()].boxed()
}

fn error_fault() -> BoxedStrategy<Value> {
    let status = prop_oneof![
        3 => select(&["500", "502", "503", "abc", ""][..]).prop_map(Value::from),
        1 => interesting(),
    ];
    let failure = prop_oneof![
        4 => status.prop_map(|status| json!({"return_value": {"status_code": status}})),
        1 => interesting(),
    ];
    let types = prop_oneof![
        4 => prop::collection::vec(failure, 0..4).prop_map(Value::Array),
        1 => interesting(),
    ];
    (prop::option::weighted(0.9, pattern()), prop::option::weighted(0.9, types))
        .prop_map(|(service_name, types)| object(vec![("service_name", service_name), ("types", types)]))
        .boxed()
}

/// A list of `item`s, or anything.
fn list(item: BoxedStrategy<Value>) -> BoxedStrategy<Value> {
    prop_oneof![
        6 => prop::collection::vec(item, 0..4).prop_map(Value::Array),
        1 => interesting(),
    ]
    .boxed()
}

fn library() -> BoxedStrategy<Value> {
    let library = (
        prop::option::weighted(0.9, pattern()),
        prop::option::of(list(exception_fault())),
        prop::option::of(list(error_fault())),
    )
        .prop_map(|(pattern, exceptions, errors)| {
            object(vec![("pattern", pattern), ("exceptions", exceptions), ("errors", errors)])
        });
    prop_oneof![20 => library, 1 => interesting()].boxed()
}

/// The text of an analysis file near the real format.
fn analysis_file() -> impl Strategy<Value = String> {
    let libraries = prop::collection::vec((key(), library()), 0..4)
        .prop_map(|libraries| Value::Object(libraries.into_iter().collect::<Map<String, Value>>()));
    (prop_oneof![20 => libraries, 1 => interesting()], 0u8..30, any::<usize>())
        .prop_map(|(file, damage, at)| damaged(serde_json::to_string_pretty(&file).unwrap(), damage, at))
}

/// Calls to ask a fault model about.
fn call() -> impl Strategy<Value = Invocation> {
    let method = prop_oneof![
        10 => select(&["GET", "POST", "get", ""][..]).prop_map(str::to_owned),
        10 => text(10),
        1 => Just(huge_string()),
    ];
    let timeout = prop_oneof![
        Just(None),
        any::<f64>().prop_filter("finite", |t| t.is_finite()).prop_map(Some),
        select(vec![0.0, -1.0, 1e300, -1e300, f64::MAX, f64::MIN_POSITIVE, 1e15, 1e15 + 1.0]).prop_map(Some),
    ];
    (method, timeout, prop::option::of(interesting())).prop_map(|(method, timeout, other)| {
        let mut value = invocation_template("[[\"h\", 1]]");
        value["method"] = Value::from(method);
        value["metadata"] = json!({"timeout": timeout, "ssl": true});
        if let Some(other) = other {
            value["metadata"]["other"] = other;
        }
        serde_json::from_value(value).unwrap()
    })
}

proptest! {
    #![proptest_config(config(1_800))]

    /// An analysis file near the real format is a fault model or an error
    /// naming the file; a model proposes faults for any call.
    #[test]
    fn analysis_files_load_or_fail(text in analysis_file(), call in call(), target in prop::option::of(text(10))) {
        match FaultModel::from_json(&text, Path::new("analysis.json")) {
            Err(error) => prop_assert!(error.to_string().starts_with("analysis file analysis.json")),
            Ok(model) => {
                let _ = model.faults_for(&call, FaultSite::Invocation, target.as_deref());
                let _ = model.faults_for(&call, FaultSite::RequestReceived, target.as_deref());
            }
        }
    }
}

/// Patterns that take a regex engine long to compile, or are very long.
fn huge_pattern() -> impl Strategy<Value = String> {
    let atom = select(&["\\w", "\\pL", ".", "[a-z]", "\\d", "a", "(?:a|b)", "[\\p{L}\\p{N}]"][..]);
    prop_oneof![
        (atom.clone(), 0u32..5000).prop_map(|(atom, n)| format!("{atom}{{{n}}}")),
        (atom, 1u32..1000, 1u32..1000).prop_map(|(atom, n, m)| format!("(?:{atom}{{{n}}}){{{m}}}")),
        (4000usize..6000).prop_map(|n| "a".repeat(n)),
        (1usize..2000).prop_map(|n| "(a|b)".repeat(n)),
        (1usize..400).prop_map(|n| "(".repeat(n) + &")".repeat(n)),
    ]
}

proptest! {
    #![proptest_config(config(24))]

    /// A pathological pattern cannot hang loading: it compiles within
    /// bounds or is refused; one longer than 4096 bytes is refused.
    #[test]
    fn pathological_patterns_load_or_fail_quickly(pattern in huge_pattern()) {
        let text = json!({"x": {"pattern": "reqwest", "errors": [{"service_name": pattern, "types": []}]}}).to_string();
        let started = Instant::now();
        let result = FaultModel::from_json(&text, Path::new("analysis.json"));
        let elapsed = started.elapsed();
        prop_assert!(elapsed < Duration::from_secs(10), "{:?} to load {}", elapsed, pattern);
        if pattern.len() > 4096 {
            prop_assert!(result.is_err());
        }
    }
}

// ---------------------------------------------------------------------------
// Counterexample files.

fn planned_fault() -> BoxedStrategy<Value> {
    let exception = prop_oneof![3 => exception_fault(), 1 => Just(Value::Null)];
    let failure = prop_oneof![
        3 => select(&["500", "503", "abc"][..]).prop_map(|s| json!({"return_value": {"status_code": s}})),
        1 => interesting(),
    ];
    let fault = (
        prop_oneof![4 => ei_pool().prop_map(Value::from), 1 => interesting()],
        prop::option::of(exception),
        prop::option::of(failure),
        prop::option::of(prop_oneof![Just(json!(["/b"])), interesting()]),
    )
        .prop_map(|(ei, exception, failure, args)| {
            object(vec![
                ("execution_index", Some(ei)),
                ("forced_exception", exception),
                ("failure_metadata", failure),
                ("args", args),
            ])
        });
    prop_oneof![14 => fault, 1 => interesting()].boxed()
}

fn log_entry() -> BoxedStrategy<Value> {
    let entry = (
        prop_oneof![4 => ei_pool().prop_map(Value::from), 1 => interesting()],
        prop_oneof![2 => select(&["b", "external"][..]).prop_map(Value::from), 1 => interesting()],
        interesting(),
        prop_oneof![Just(json!(["/b"])), interesting()],
    )
        .prop_map(|(ei, target, line, args)| {
            json!({
                "execution_index": ei, "target_service_name": target, "callsite_line": line, "args": args,
                "full_traceback": "f00", "method": "GET", "source_service_name": "users",
            })
        });
    prop_oneof![9 => entry, 1 => interesting()].boxed()
}

/// The text of a counterexample file near the real format.
fn counterexample_file() -> impl Strategy<Value = String> {
    let execution = (
        prop::option::weighted(0.9, list(planned_fault())),
        prop::option::of(list(log_entry())),
        prop::option::of(list(log_entry())),
    )
        .prop_map(|(failures, log, response_log)| {
            object(vec![("failures", failures), ("log", log), ("response_log", response_log)])
        });
    // `TestExecution` as the reference writes it (a JSON text), as an
    // object, as a damaged text, or anything.
    let execution = prop_oneof![
        6 => execution.clone().prop_map(|e| Value::from(serde_json::to_string_pretty(&e).unwrap())),
        2 => execution.clone(),
        1 => (execution, any::<usize>()).prop_map(|(e, at)| Value::from(damaged(e.to_string(), 0, at))),
        1 => interesting(),
    ];
    let functional_test = prop_oneof![4 => text(20).prop_map(Value::from), 1 => interesting()];
    (prop::option::weighted(0.9, functional_test), execution, 0u8..30, any::<usize>()).prop_map(
        |(functional_test, execution, damage, at)| {
            let file = object(vec![("TestExecution", Some(execution)), ("functional_test", functional_test)]);
            damaged(serde_json::to_string_pretty(&file).unwrap(), damage, at)
        },
    )
}

proptest! {
    #![proptest_config(config(1_600))]

    /// A counterexample file near the real format parses or fails with a
    /// message; what parses prints back to itself.
    #[test]
    fn counterexample_files_parse_or_fail(text in counterexample_file()) {
        match Counterexample::parse(&text) {
            Err(message) => prop_assert!(!message.is_empty()),
            Ok(counterexample) => {
                prop_assert!(reads_back(&counterexample), "{:?}", counterexample);
            }
        }
    }
}

proptest! {
    #![proptest_config(config(300))]

    /// A parsed counterexample replays without a panic, whatever its
    /// faults and logs, against a test that makes the calls its faults
    /// name and others.
    #[test]
    fn parsed_counterexamples_replay(
        counterexample in counterexample_file().prop_filter_map("parses", |text| Counterexample::parse(&text).ok()),
        ops in prop::collection::vec(op(), 0..6),
    ) {
        let mut calls: Vec<Op> = counterexample
            .faults
            .iter()
            .map(|fault| Op::Create(invocation_template(&fault.execution_index)))
            .collect();
        calls.extend(ops);
        let explorer = Explorer::with_fault_model(default_model()).grace(Duration::ZERO).allow_no_calls(true).replay(counterexample.clone());
        let report = block_on(explorer.run(test_feeding(&explorer, calls, true)));
        let _ = (report.verdict(), report.summary(), report.failure_message());
        serde_json::to_string(&report).unwrap();
        match report.replay {
            Some(ReplayOutcome::Stale { unmatched, .. }) => prop_assert!(!unmatched.is_empty()),
            Some(_) => {}
            None => prop_assert!(!report.errors.is_empty()),
        }
    }
}

/// Cases the properties met that pinned down what is right, kept: a clock
/// with a name twice is refused when either entry is not a count (the
/// last entry wins otherwise); a counterexample's floats read back within
/// a unit in the last place (serde_json's reading of floats).
#[test]
fn found_cases() {
    assert!(VectorClock::parse(r#" {"a": 0.0, "a": 1} "#).is_err());
    assert!(VectorClock::parse(r#"{"a": 1, "a": -1}"#).is_err());
    assert_eq!(VectorClock::parse(r#"{"a": 1, "a": 2}"#).unwrap().get("a"), 2);
    let mut headers = HeaderMap::new();
    headers.insert(ORIGIN_VCLOCK, HeaderValue::from_static(r#" {"a": 0.0, "a": 1} "#));
    assert_eq!(FilibusterHeaders::from_headers(&headers).origin_vclock, None);
    let text = r#"{"TestExecution": "{\"failures\": [], \"response_log\": [-6.680337388520721e-251]}"}"#;
    assert!(reads_back(&Counterexample::parse(text).unwrap()));
}

/// The forms `Counterexample::parse` takes and refuses, named.
#[test]
fn counterexample_shapes() {
    assert!(Counterexample::parse(r#"{"TestExecution": {"failures": []}}"#).is_ok());
    assert!(Counterexample::parse(r#"{"TestExecution": "{\"failures\": []}"}"#).is_ok());
    assert!(Counterexample::parse(r#"{"TestExecution": 1}"#).is_err());
}

/// Found by `the_router_answers_any_request_with_json`: the answers axum
/// made itself (an unknown path, a wrong method, a service name that is not
/// UTF-8, a body over the limit) had an empty or plain-text body. They are
/// JSON now, with their status and head kept.
#[tokio::test]
async fn the_routers_own_errors_are_json() {
    let big = vec![b' '; 3 << 20];
    let cases: [(Method, &str, Vec<u8>, u16, &str); 7] = [
        (Method::GET, "/nope", Vec::new(), 404, "no such endpoint: /nope"),
        (
            Method::GET,
            "/filibuster/new-test-execution/a/b",
            Vec::new(),
            404,
            "no such endpoint: /filibuster/new-test-execution/a/b",
        ),
        (Method::DELETE, "/", Vec::new(), 405, "Method Not Allowed"),
        (
            Method::GET,
            "/filibuster/new-test-execution/%FF",
            Vec::new(),
            400,
            "Invalid URL: Invalid UTF-8 in `service`",
        ),
        (
            Method::GET,
            "/filibuster/fault-injected/%FF%FE",
            Vec::new(),
            400,
            "Invalid URL: Invalid UTF-8 in `service`",
        ),
        (
            Method::PUT,
            "/filibuster/create",
            big.clone(),
            413,
            "Failed to buffer the request body: length limit exceeded",
        ),
        (
            Method::POST,
            "/filibuster/update",
            big,
            413,
            "Failed to buffer the request body: length limit exceeded",
        ),
    ];
    let server = Server::default();
    for (method, path, body, status, error) in cases {
        let request = Request::builder().method(method.clone()).uri(path).body(Body::from(body)).unwrap();
        let response = server.router().oneshot(request).await.unwrap();
        assert_eq!(response.status().as_u16(), status, "{method} {path}");
        assert_eq!(response.headers()["content-type"], "application/json");
        if status == 405 {
            assert!(response.headers().contains_key("allow"), "{:?}", response.headers());
        }
        let body = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
        assert_eq!(
            serde_json::from_slice::<Value>(&body).unwrap(),
            json!({"error": error}),
            "{method} {path}"
        );
    }
    // The endpoints' own answers are untouched.
    let request = Request::put("/filibuster/create").body(Body::from("{")).unwrap();
    let (status, body) = answer(server.router(), request).await;
    assert_eq!(status, 400);
    let error = serde_json::from_slice::<Value>(&body).unwrap()["error"].as_str().unwrap().to_owned();
    assert!(error.starts_with("expected an invocation record as JSON: "), "{error}");
    let (status, body) =
        answer(server.router(), Request::get("/health-check").body(Body::empty()).unwrap()).await;
    assert_eq!((status, serde_json::from_slice::<Value>(&body).unwrap()), (200, json!({"status": "OK"})));
}
