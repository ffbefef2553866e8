//! The README's and the guide's snippets that must run, run; and their links
//! reach what they name.
//!
//! `cargo test --doc` compiles every Rust block of the guide (`docs/*.md`,
//! the docs of `filibuster::guide`), but runs none that needs services, and
//! does not even type-check the body of a `#[filibuster::test]` (a `#[test]`
//! fn is left out of a doctest). So each block between a
//! `// snippet of <file>: <name>` line and `// end of snippet` below is in
//! that file word for word (after its indentation), which
//! `the_docs_show_these_snippets` checks, and runs here against real
//! services: the README's quick start on its own two services, the others
//! on the cinema example or on the app their section describes.
//!
//! `the_links_of_the_docs_reach_their_headings` checks the links between
//! the README and the chapters, on GitHub (relative `.md` links whose
//! headings exist) and in rustdoc (each chapter's link definitions are in
//! `src/lib.rs`'s `chapter_links!`, which rustdoc takes first).

use cinema as app;
mod support;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// The README's quick start: two services and a test that explores them.
mod quick_start {
    // snippet of README.md: quick start
    use std::time::Duration;

    use axum::Router;
    use axum::extract::{Path, State};
    use axum::http::StatusCode;
    use axum::routing::get;
    use filibuster::{Connection, TestContext};

    #[derive(Clone)]
    struct Users {
        http: reqwest::Client,
        bookings_url: String,
    }

    /// A handler of the service `users`: a user's bookings, which it asks `bookings` for.
    #[filibuster::handler(service = "users")]
    async fn user_bookings(State(users): State<Users>, Path(user): Path<String>) -> (StatusCode, String) {
        match get_bookings(&users, &user).await {
            Ok(response) if response.status() == StatusCode::OK => {
                (StatusCode::OK, response.text().await.unwrap_or_default())
            }
            // A connection error, a timeout, a 5xx: the app's own handling, which the test checks.
            _ => (StatusCode::SERVICE_UNAVAILABLE, "bookings unavailable".to_owned()),
        }
    }

    /// Every `.send()` in here is a call the explorer can make fail.
    #[filibuster::call]
    async fn get_bookings(users: &Users, user: &str) -> reqwest::Result<reqwest::Response> {
        let url = format!("{}/bookings/{user}", users.bookings_url);
        users.http.get(url).timeout(Duration::from_secs(5)).send().await
    }

    #[filibuster::handler(service = "bookings")]
    async fn bookings(Path(user): Path<String>) -> String {
        format!("[\"{user}: Creed, 1 December\"]")
    }

    /// What the test reaches of the app.
    struct App {
        users_url: String,
    }

    /// Starts both services on 127.0.0.1, each router with the explorer's layer.
    async fn start_app(connection: Connection) -> App {
        let bookings_router = Router::new().route("/bookings/{user}", get(bookings));
        let bookings_url = serve(bookings_router, &connection).await;
        let users = Users { http: reqwest::Client::new(), bookings_url };
        let users_router =
            Router::new().route("/users/{user}/bookings", get(user_bookings)).with_state(users);
        App { users_url: serve(users_router, &connection).await }
    }

    async fn serve(router: Router, connection: &Connection) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let router = router.layer(connection.layer());
        tokio::spawn(async move { axum::serve(listener, router).await });
        url
    }

    /// Runs once per fault combination: 200 unless the bookings lookup failed, then 503.
    #[filibuster::test(services = start_app)]
    async fn chris_sees_his_bookings(ctx: TestContext, app: &App) -> Result<(), String> {
        let url = format!("{}/users/chris/bookings", app.users_url);
        let status = reqwest::get(url).await.map_err(|e| e.to_string())?.status().as_u16();
        ctx.expect_outcome(ctx.fault_injected_at("get_bookings"), status, 200, &[503])
    }
    // end of snippet
}

/// `#[filibuster::test]` on the cinema, as the chapter on testing shows it,
/// and the oracle of the chapter on adopting it.
mod cinema_tests {
    use axum::Router;

    use super::{app, support};

    async fn serve(router: Router) -> String {
        support::serve(router).await
    }

    fn bookings() -> Router {
        app::bookings()
    }

    fn movies() -> Router {
        app::movies()
    }

    fn users(bookings_url: &str, movies_url: &str) -> Router {
        let peers = app::Peers { bookings: bookings_url.to_owned(), movies: movies_url.to_owned() };
        app::users(peers, app::Bug::None, reqwest::Client::new())
    }

    // snippet of docs/testing.md: the attribute
    use filibuster::{Connection, TestContext};

    /// What the test reaches of the app.
    struct App {
        users_url: String,
    }

    /// Starts the services once per test, each router layered with the
    /// explorer's connection, on ports of 127.0.0.1.
    async fn start_app(connection: Connection) -> App {
        let layer = connection.layer();
        let bookings_url = serve(bookings().layer(layer.clone())).await;
        let movies_url = serve(movies().layer(layer.clone())).await;
        let users_url = serve(users(&bookings_url, &movies_url).layer(layer)).await;
        App { users_url }
    }

    #[filibuster::test(services = start_app)]
    async fn chris_sees_his_bookings(ctx: TestContext, app: &App) -> Result<(), String> {
        let status = reqwest::get(format!("{}/users/chris_rivers/bookings", app.users_url))
            .await
            .map_err(|e| e.to_string())?
            .status();
        match (ctx.fault_injected(), status.as_u16()) {
            (false, 200) | (true, 503 | 404) => Ok(()),
            (injected, status) => Err(format!("fault injected: {injected}, got {status}")),
        }
    }
    // end of snippet

    mod what_to_assert {
        use super::{App, start_app};

        // snippet of docs/adopting.md: what to assert
        use filibuster::TestContext;

        #[filibuster::test(services = start_app)]
        async fn chris_sees_his_booking_or_a_503(ctx: TestContext, app: &App) -> Result<(), String> {
            let response = reqwest::get(format!("{}/users/chris_rivers/bookings", app.users_url))
                .await
                .map_err(|e| e.to_string())?;
            let status = response.status().as_u16();
            let body = response.text().await.map_err(|e| e.to_string())?;
            // The answer depends on both calls users makes; any fault on one is a 503.
            let depends = ctx.fault_injected_at("get_bookings") || ctx.fault_injected_at("get_movie");
            ctx.expect_outcome(depends, status, 200, &[503])?;
            // A 200 must hold the booking: the planted bug answers 200 with an empty list.
            if status == 200 && !body.contains("Creed") {
                return Err(format!("execution {}: 200 without the booking: {body}", ctx.execution()));
            }
            Ok(())
        }
        // end of snippet
    }
}

/// The `Explorer` of the chapter on testing, on the cinema.
mod explorer {
    use filibuster::Explorer;

    use super::app;

    /// The cinema's services, for `explorer`; the URL of Chris Rivers'
    /// bookings at `users`.
    async fn start_services(explorer: &Explorer) -> String {
        let started =
            app::start_all(&explorer.connection(), app::Bug::None).await.expect("the cinema starts");
        format!("{}/users/chris_rivers/bookings", started.users)
    }

    #[tokio::test]
    async fn the_explorer_snippet_explores_the_cinema() {
        // snippet of docs/testing.md: the explorer
        let explorer = filibuster::Explorer::new(); // built-in fault model, dynamic reduction on
        // Your services on 127.0.0.1:0, each router with `.layer(explorer.connection().layer())`:
        let users_url = start_services(&explorer).await;
        let report = explorer
            .run(|ctx| {
                let users_url = users_url.clone(); // the closure runs once per execution
                async move {
                    let status = reqwest::get(&users_url).await.map_err(|e| e.to_string())?.status();
                    match (ctx.fault_injected(), status.as_u16()) {
                        (false, 200) | (true, 503 | 404) => Ok(()),
                        (injected, status) => Err(format!("fault injected: {injected}, got {status}")),
                    }
                }
            })
            .await;
        report.assert_passed();
        // end of snippet
        assert!(report.executions_run > 1, "{}", report.summary());
    }
}

/// The app of "which call got the fault": `users` looks a user's bookings up
/// in `bookings` and posts an audit record to the same service and path.
mod which_call {
    use axum::Router;
    use axum::extract::{Path, State};
    use axum::http::StatusCode;
    use axum::routing::get;
    use filibuster::Explorer;

    use super::support;

    #[derive(Clone)]
    struct Users {
        http: reqwest::Client,
        bookings: String,
    }

    #[filibuster::call]
    async fn fetch_bookings(users: &Users, user: &str) -> reqwest::Result<reqwest::Response> {
        users.http.get(format!("{}/bookings/{user}", users.bookings)).send().await
    }

    #[filibuster::call]
    async fn post_audit(users: &Users, user: &str) -> reqwest::Result<reqwest::Response> {
        users.http.post(format!("{}/bookings/{user}", users.bookings)).body("looked up").send().await
    }

    /// The bookings of `user`, or 503 when they cannot be looked up; the
    /// audit record is best effort.
    #[filibuster::handler(service = "users")]
    async fn user_bookings(State(users): State<Users>, Path(user): Path<String>) -> (StatusCode, String) {
        let _ = post_audit(&users, &user).await;
        match fetch_bookings(&users, &user).await {
            Ok(response) if response.status() == StatusCode::OK => {
                (StatusCode::OK, response.text().await.unwrap_or_default())
            }
            _ => (StatusCode::SERVICE_UNAVAILABLE, String::new()),
        }
    }

    #[filibuster::handler(service = "bookings")]
    async fn bookings(Path(user): Path<String>) -> String {
        format!("[\"{user}: Creed\"]")
    }

    #[tokio::test]
    async fn the_snippet_naming_the_call_explores_its_app() {
        let explorer = Explorer::new();
        let layer = explorer.connection().layer();
        let bookings_url = support::serve(
            Router::new().route("/bookings/{user}", get(bookings).post(bookings)).layer(layer.clone()),
        )
        .await;
        let users = Users { http: reqwest::Client::new(), bookings: bookings_url };
        let users_base = support::serve(
            Router::new().route("/users/{user}/bookings", get(user_bookings)).with_state(users).layer(layer),
        )
        .await;
        let users_url = format!("{users_base}/users/chris_rivers/bookings");
        // snippet of docs/testing.md: which call
        let report = explorer
            .run(|ctx| {
                let users_url = users_url.clone();
                async move {
                    let status = reqwest::get(&users_url).await.map_err(|e| e.to_string())?.status().as_u16();
                    // The bookings lookup, by method and axum route ({param}: one segment)...
                    let lookup_failed = ctx.fault_injected_on_request("bookings", "GET", "/bookings/{user}");
                    // ...or, the same here, by the #[filibuster::call] fn that sends it.
                    assert_eq!(lookup_failed, ctx.fault_injected_at("fetch_bookings"));
                    // 200 without that fault, 503 with it; the error lists the faults injected.
                    ctx.expect_outcome(lookup_failed, status, 200, &[503])
                }
            })
            .await;
        // end of snippet
        report.assert_passed();
        assert!(report.executions_run > 1, "{}", report.summary());
    }
}

/// The package's root: where README.md, docs/ and src/lib.rs are.
fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The chapters of the guide: `docs/*.md`.
fn chapters() -> Vec<PathBuf> {
    let mut chapters: Vec<PathBuf> = std::fs::read_dir(root().join("docs"))
        .expect("docs/ is there")
        .map(|entry| entry.expect("docs/ can be listed").path())
        .filter(|path| path.extension().is_some_and(|e| e == "md"))
        .collect();
    chapters.sort();
    chapters
}

/// Each marked block of this file, in its file word for word.
#[test]
fn the_docs_show_these_snippets() {
    let source = include_str!("test_readme.rs");
    let mut snippets = BTreeSet::new();
    let mut lines = source.lines();
    while let Some(line) = lines.next() {
        let Some(rest) = line.trim().strip_prefix("// snippet of ") else { continue };
        let (file, name) = rest.split_once(": ").expect("`// snippet of <file>: <name>`");
        let block: Vec<&str> = lines.by_ref().take_while(|l| l.trim() != "// end of snippet").collect();
        let indent =
            block.iter().filter(|l| !l.trim().is_empty()).map(|l| l.len() - l.trim_start().len()).min();
        let text: String =
            block.iter().map(|l| format!("{}\n", l.get(indent.unwrap_or(0)..).unwrap_or(""))).collect();
        assert!(
            read(&root().join(file)).contains(&text),
            "{file} lacks the snippet `{name}`, as it is in tests/test_readme.rs:\n{text}"
        );
        snippets.insert(format!("{file}: {name}"));
    }
    let expected = [
        "README.md: quick start",
        "docs/adopting.md: what to assert",
        "docs/testing.md: the attribute",
        "docs/testing.md: the explorer",
        "docs/testing.md: which call",
    ];
    assert_eq!(snippets, expected.iter().map(|s| s.to_string()).collect());
}

/// `text` without its fenced code blocks and code spans, which hold no links.
fn prose(text: &str) -> String {
    let mut out = String::new();
    let mut fenced = false;
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
            out.push('\n');
            continue;
        }
        if !fenced {
            out.push_str(line);
        }
        out.push('\n');
    }
    // Code spans: a run of backticks up to the next run as long.
    let chars: Vec<char> = out.chars().collect();
    let mut kept = String::new();
    let mut i = 0;
    while i < chars.len() {
        if chars[i] == '`' {
            let run = chars[i..].iter().take_while(|c| **c == '`').count();
            let mut j = i + run;
            let mut closed = None;
            while j < chars.len() {
                if chars[j] == '`' {
                    let other = chars[j..].iter().take_while(|c| **c == '`').count();
                    if other == run {
                        closed = Some(j + run);
                        break;
                    }
                    j += other;
                } else {
                    j += 1;
                }
            }
            match closed {
                Some(end) => {
                    kept.push_str("code");
                    i = end;
                }
                None => {
                    kept.extend(&chars[i..i + run]);
                    i += run;
                }
            }
        } else {
            kept.push(chars[i]);
            i += 1;
        }
    }
    kept
}

/// The anchors GitHub (and rustdoc) give the headings of `text`.
fn anchors(text: &str) -> BTreeSet<String> {
    let mut fenced = false;
    let mut anchors = BTreeSet::new();
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
        }
        if fenced || !line.starts_with('#') {
            continue;
        }
        let heading = line.trim_start_matches('#').trim();
        let slug: String = heading
            .to_lowercase()
            .chars()
            .filter(|c| c.is_alphanumeric() || matches!(c, ' ' | '-' | '_'))
            .map(|c| if c == ' ' { '-' } else { c })
            .collect();
        anchors.insert(slug);
    }
    anchors
}

/// The inline links `[text](destination)` of `prose`: their destinations.
fn inline_links(prose: &str) -> Vec<String> {
    let mut links = Vec::new();
    let mut rest = prose;
    while let Some(at) = rest.find("](") {
        let after = &rest[at + 2..];
        let end = after.find(')').unwrap_or(after.len());
        links.push(after[..end].trim().to_owned());
        rest = &after[end..];
    }
    links
}

/// The labels of the reference links `[text][label]` of `prose`.
fn reference_links(prose: &str) -> Vec<String> {
    let mut labels = Vec::new();
    let mut rest = prose;
    while let Some(at) = rest.find("][") {
        let after = &rest[at + 2..];
        let end = after.find(']').unwrap_or(after.len());
        labels.push(after[..end].to_owned());
        rest = &after[end..];
    }
    labels
}

/// The link definitions `[label]: destination` of `prose`.
fn definitions(prose: &str) -> Vec<(String, String)> {
    prose
        .lines()
        .filter_map(|line| {
            let (label, destination) = line.strip_prefix('[')?.split_once("]: ")?;
            Some((label.to_owned(), destination.trim().to_owned()))
        })
        .collect()
}

/// Checks that the relative `destination`, from the file at `from`, names a
/// file that exists and, with a `#fragment`, a heading of that file.
fn check_destination(from: &Path, destination: &str, problems: &mut Vec<String>) {
    let (file, fragment) = match destination.split_once('#') {
        Some((file, fragment)) => (file, Some(fragment)),
        None => (destination, None),
    };
    let target = if file.is_empty() { from.to_owned() } else { from.parent().unwrap().join(file) };
    if !target.exists() {
        problems.push(format!("{}: `{destination}` names no file", from.display()));
        return;
    }
    if let Some(fragment) = fragment
        && !anchors(&read(&target)).contains(fragment)
    {
        problems.push(format!(
            "{}: `{destination}` names no heading of {}",
            from.display(),
            target.display()
        ));
    }
}

/// The links of the README and the chapters reach the files and headings
/// they name, on GitHub and in rustdoc.
#[test]
fn the_links_of_the_docs_reach_their_headings() {
    let lib = read(&root().join("src/lib.rs"));
    let mut problems = Vec::new();
    let readme = root().join("README.md");
    let mut documents = vec![readme.clone()];
    documents.extend(chapters());
    for path in &documents {
        let prose = prose(&read(path));
        let is_chapter = *path != readme;
        for destination in inline_links(&prose) {
            if destination.contains("://") || destination.starts_with("mailto:") {
                continue;
            }
            let file = destination.split('#').next().unwrap_or("");
            if is_chapter && file.ends_with(".md") {
                problems.push(format!(
                    "{}: `({destination})` is an inline link to a chapter, which rustdoc cannot follow: \
                     write `[text][{destination}]` with `[{destination}]: {destination}` at the foot \
                     (and in `chapter_links!` of src/lib.rs)",
                    path.display()
                ));
                continue;
            }
            check_destination(path, &destination, &mut problems);
        }
        let defined = definitions(&prose);
        for label in reference_links(&prose) {
            if !defined.iter().any(|(l, _)| l.eq_ignore_ascii_case(&label)) {
                problems.push(format!("{}: `[{label}]` is not defined in the file", path.display()));
            }
        }
        for (label, destination) in &defined {
            if destination.contains("://") {
                continue;
            }
            check_destination(path, destination, &mut problems);
            if !is_chapter {
                continue;
            }
            if label != destination {
                problems.push(format!(
                    "{}: `[{label}]: {destination}`: name the label as its destination",
                    path.display()
                ));
            }
            let (file, fragment) = destination.split_once('#').unwrap_or((destination, ""));
            let module = file.trim_end_matches(".md").replace('-', "_");
            let rustdoc = match fragment {
                "" => format!("[{label}]: crate::guide::{module}\n"),
                fragment => format!("[{label}]: crate::guide::{module}#{fragment}\n"),
            };
            if !lib.contains(&rustdoc) {
                problems.push(format!(
                    "{}: src/lib.rs's `chapter_links!` lacks `{}`",
                    path.display(),
                    rustdoc.trim()
                ));
            }
        }
    }
    for chapter in chapters() {
        let name = chapter.file_name().unwrap().to_string_lossy().into_owned();
        if !lib.contains(&format!("include_str!(\"../docs/{name}\")")) {
            problems.push(format!("docs/{name} is not a module of `filibuster::guide` in src/lib.rs"));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
