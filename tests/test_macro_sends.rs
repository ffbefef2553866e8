//! A `.send()` inside `tokio::join!`, `tokio::try_join!`, `tokio::select!`,
//! `vec!` and std's assertion and formatting macros is an instrumented call
//! like any other: its callsite id counts it in source order with the sends
//! around it (`<package>:<file>:<fn>#<n>`), and it reports its line.
//!
//! A handler that sends inline carries `#[filibuster::handler]` and
//! `#[filibuster::call]` on one fn, in either order: its `.send()`s are
//! instrumented the same way.

use std::collections::BTreeMap;

use axum::Router;
use axum::extract::State;
use axum::routing::get;

mod support;
use support::{Downstream, Recorder, md5, serve};

#[derive(Clone)]
struct App {
    http: reqwest::Client,
    b_url: String,
}

impl App {
    fn get(&self, path: &str) -> reqwest::RequestBuilder {
        self.http.get(format!("{}{path}", self.b_url))
    }
}

#[filibuster::call]
async fn in_macros(app: &App) -> reqwest::Result<Vec<String>> {
    let mut seen = vec![app.get("/first").send().await?.text().await?]; // CALLSITE in_macros#1
    let (a, b) = tokio::join!(
        app.get("/join/a").send(), // CALLSITE in_macros#2
        app.get("/join/b").send(), // CALLSITE in_macros#3
    );
    seen.extend([a?.text().await?, b?.text().await?]);
    let (c, d) = tokio::try_join!(
        biased;
        app.get("/try-join/c").send(), // CALLSITE in_macros#4
        app.get("/try-join/d").send(), // CALLSITE in_macros#5
    )?;
    seen.extend([c.text().await?, d.text().await?]);
    let selected = tokio::select! {
        biased;
        Ok(response) = app.get("/select/future").send() => { // CALLSITE in_macros#6
            let second = app.get("/select/handler").send().await?.text().await?; // CALLSITE in_macros#7
            format!("{} {second}", response.text().await?)
        }
        else => String::new(),
    };
    seen.push(selected);
    // A handler that is not a block, opening with a rewritten `.send()`.
    let selected = tokio::select! {
        Ok(_) = app.get("/select/other").send() => app // CALLSITE in_macros#8
            .get("/select/expr-handler")
            .send() // CALLSITE in_macros#9
            .await?
            .text()
            .await?,
    };
    seen.push(selected);
    seen.append(&mut vec![app.get("/vec/repeated").send().await?.text().await?; 2]); // CALLSITE in_macros#10
    assert!(app.get("/assert").send().await?.status().is_success(), "downstream failed"); // CALLSITE in_macros#11
    seen.push(format!("<{}>", app.get("/format").send().await?.text().await?)); // CALLSITE in_macros#12
    seen.push(app.get("/last").send().await?.text().await?); // CALLSITE in_macros#13
    Ok(seen)
}

#[filibuster::handler(service = "a")]
async fn start(State(app): State<App>) -> String {
    in_macros(&app).await.unwrap().join(" ")
}

/// Target of each call: the marker of its `.send()`.
const EXPECTED: [(&str, &str); 13] = [
    ("/first", "in_macros#1"),
    ("/join/a", "in_macros#2"),
    ("/join/b", "in_macros#3"),
    ("/try-join/c", "in_macros#4"),
    ("/try-join/d", "in_macros#5"),
    ("/select/future", "in_macros#6"),
    ("/select/handler", "in_macros#7"),
    ("/select/other", "in_macros#8"),
    ("/select/expr-handler", "in_macros#9"),
    ("/vec/repeated", "in_macros#10"),
    ("/assert", "in_macros#11"),
    ("/format", "in_macros#12"),
    ("/last", "in_macros#13"),
];

/// The line of the `.send()` marked `// CALLSITE <marker>`.
fn line_of(marker: &str) -> String {
    let suffix = format!("// CALLSITE {marker}");
    let lines: Vec<usize> = include_str!("test_macro_sends.rs")
        .lines()
        .enumerate()
        .filter(|(_, l)| l.contains(".send()") && l.ends_with(&suffix))
        .map(|(i, _)| i + 1)
        .collect();
    assert_eq!(lines.len(), 1, "one marker {marker}");
    lines[0].to_string()
}

/// Serves service a's `router` (its state: an `App` reaching a downstream
/// `b`) with the instrumentation on, reporting to a recorder; a's URL and
/// the recorder.
async fn serve_a(router: Router<App>) -> (String, Recorder) {
    filibuster::enable();
    let recorder = Recorder::default();
    let connection = recorder.connect().await;
    let b_url = Downstream::default().serve().await;
    let app = App { http: reqwest::Client::new(), b_url };
    (serve(router.with_state(app).layer(connection.layer())).await, recorder)
}

#[tokio::test]
async fn sends_in_macros_are_instrumented_in_source_order() {
    let (a_url, recorder) = serve_a(Router::new().route("/start", get(start))).await;
    let body = reqwest::get(format!("{a_url}/start")).await.unwrap().text().await.unwrap();
    let b = Downstream::BODY;
    assert_eq!(body, [b, b, b, b, b, &format!("{b} {b}"), b, b, b, &format!("<{b}>"), b].join(" "));

    // The two futures of a join! run concurrently: compare by target.
    let creates: BTreeMap<String, serde_json::Value> =
        recorder.creates().into_iter().map(|c| (c["args"][0].as_str().unwrap().to_owned(), c)).collect();
    assert_eq!(creates.len(), EXPECTED.len(), "{creates:#?}");
    for (target, marker) in EXPECTED {
        let create = &creates[target];
        assert_eq!(create["full_traceback"], md5(&format!("filibuster:tests/test_macro_sends.rs:{marker}")));
        assert_eq!(create["callsite_line"], line_of(marker), "{marker}");
    }
}

/// `#[filibuster::handler]` above `#[filibuster::call]`: the handler's
/// expansion instruments the sends first.
#[filibuster::handler(service = "a")]
#[filibuster::call]
async fn handler_above(State(app): State<App>) -> String {
    app.get("/handler-above").send().await.unwrap().text().await.unwrap() // CALLSITE handler_above#1
}

/// `#[filibuster::call]` above `#[filibuster::handler]`.
#[filibuster::call]
#[filibuster::handler(service = "a")]
async fn call_above(State(app): State<App>) -> String {
    app.get("/call-above").send().await.unwrap().text().await.unwrap() // CALLSITE call_above#1
}

#[tokio::test]
async fn a_handler_with_the_call_attribute_in_either_order_is_instrumented() {
    let router =
        Router::new().route("/handler-above", get(handler_above)).route("/call-above", get(call_above));
    let (a_url, recorder) = serve_a(router).await;
    for (path, marker) in [("/handler-above", "handler_above#1"), ("/call-above", "call_above#1")] {
        let body = reqwest::get(format!("{a_url}{path}")).await.unwrap().text().await.unwrap();
        assert_eq!(body, Downstream::BODY, "{path}");
        let creates = recorder.creates();
        let create =
            creates.iter().find(|c| c["args"][0] == path).unwrap_or_else(|| panic!("{path}: {creates:#?}"));
        assert_eq!(create["full_traceback"], md5(&format!("filibuster:tests/test_macro_sends.rs:{marker}")));
        assert_eq!(create["callsite_line"], line_of(marker), "{marker}");
        // The call was made in the handler's request: a's.
        assert_eq!(create["source_service_name"], "a", "{create:#}");
    }
}
