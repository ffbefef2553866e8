//! A large benchmark application: a streaming service's homepage, ten
//! services, shaped like the reference Filibuster's largest benchmark (its
//! corpus's `netflix` example: a client's homepage request fans out from an
//! API gateway to the services of each row of the page, with fallbacks).
//!
//! ```text
//! test ──> api-gateway ──> user-profile ──> telemetry            (tolerated)
//!              │
//!              ├─────────> bookmarks        on failure ──> trending
//!              ├─────────> my-list ──> catalog                   (required by my-list)
//!              └─────────> user-recommendations ──> ratings      (required)
//!                             on failure ──> global-recommendations
//! ```
//!
//! The gateway needs the profile (no profile: 503); every other row degrades
//! gracefully: a failed row is replaced by its fallback, or left out. Every
//! call is made by a `#[filibuster::call]` function with a 10 s timeout, in
//! turn (the page's rows in a fixed order, as the reference's services do),
//! so that the gateway's calls are independent: under the built-in fault
//! model (five faults a call) the exploration tries every combination of
//! faults on them, over 5,000 test executions with dynamic reduction.
//!
//! Faults on the calls below the gateway's (`telemetry` from `user-profile`,
//! `catalog` from `my-list`, `ratings` from `user-recommendations`) are
//! mostly pruned in combination: the service that makes them answers the
//! same as a fault injected on the call to it.

#![allow(dead_code, unreachable_pub)] // a module of each bench crate: `pub` here is no public API

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// The ten services, in the order [`start`] serves them.
pub const SERVICES: [&str; 10] = [
    "api-gateway",
    "user-profile",
    "telemetry",
    "bookmarks",
    "trending",
    "my-list",
    "catalog",
    "user-recommendations",
    "ratings",
    "global-recommendations",
];

/// The one user of the functional test.
pub const USER: &str = "ada";

/// Base URLs (`http://host:port`) of the services that others call.
#[derive(Clone, Debug, Default)]
pub struct Peers {
    pub user_profile: String,
    pub telemetry: String,
    pub bookmarks: String,
    pub trending: String,
    pub my_list: String,
    pub catalog: String,
    pub user_recommendations: String,
    pub ratings: String,
    pub global_recommendations: String,
}

/// What the services that call others hold: the peers and a client.
#[derive(Clone)]
struct Deps {
    peers: Arc<Peers>,
    http: reqwest::Client,
}

/// An error of a handler, answered as `{"error": message}`.
#[derive(Debug)]
enum Error {
    NotFound(String),
    Unavailable(String),
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        let (status, message) = match self {
            Error::NotFound(message) => (StatusCode::NOT_FOUND, message),
            Error::Unavailable(message) => (StatusCode::SERVICE_UNAVAILABLE, message),
        };
        (status, Json(json!({ "error": message }))).into_response()
    }
}

/// The JSON body of a call's answer when it is a 200, else `None` (a failed
/// call, another status or a body that is not the JSON expected).
async fn ok_json<T: serde::de::DeserializeOwned>(answer: reqwest::Result<reqwest::Response>) -> Option<T> {
    let response = answer.ok()?;
    if response.status() != StatusCode::OK {
        return None;
    }
    response.json().await.ok()
}

fn unavailable(service: &str) -> Error {
    Error::Unavailable(format!("the {service} service failed"))
}

// ----- the data ---------------------------------------------------------------

/// A title of the catalog.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Title {
    pub id: String,
    pub name: String,
    pub year: u16,
}

fn catalog_entry(id: &str) -> Option<Title> {
    let (name, year) = match id {
        "t1" => ("The Long Dark", 2019),
        "t2" => ("Harbour Lights", 2021),
        "t3" => ("Nine Summers", 2016),
        "t4" => ("Paper Moons", 2022),
        "t5" => ("Cold Open", 2020),
        "t6" => ("The Cartographer", 2018),
        _ => return None,
    };
    Some(Title { id: id.to_owned(), name: name.to_owned(), year })
}

// ----- api-gateway ------------------------------------------------------------

/// The `api-gateway`: `GET /homepage/{user}`, the page's rows gathered from
/// the other services in turn.
pub fn api_gateway(peers: Peers, http: reqwest::Client) -> Router {
    Router::new().route("/homepage/{user}", get(homepage)).with_state(Deps { peers: Arc::new(peers), http })
}

#[filibuster::handler(service = "api-gateway")]
async fn homepage(State(deps): State<Deps>, Path(user): Path<String>) -> Result<Json<Value>, Error> {
    // The profile is required.
    let profile: Value =
        ok_json(get_profile(&deps, &user).await).await.ok_or_else(|| unavailable("user-profile"))?;
    let mut page = serde_json::Map::new();
    page.insert("profile".into(), profile);

    // Continue watching, else what is trending, else no row.
    if let Some(bookmarks) = ok_json::<Value>(get_bookmarks(&deps, &user).await).await {
        page.insert("continue_watching".into(), bookmarks);
    } else if let Some(trending) = ok_json::<Value>(get_trending(&deps).await).await {
        page.insert("trending".into(), trending);
    }

    // My list, else no row.
    if let Some(list) = ok_json::<Value>(get_my_list(&deps, &user).await).await {
        page.insert("my_list".into(), list);
    }

    // Personal recommendations, else the global ones, else no row.
    if let Some(titles) = ok_json::<Value>(get_user_recommendations(&deps, &user).await).await {
        page.insert("recommendations".into(), json!({ "source": "personal", "titles": titles }));
    } else if let Some(titles) = ok_json::<Value>(get_global_recommendations(&deps).await).await {
        page.insert("recommendations".into(), json!({ "source": "global", "titles": titles }));
    }
    Ok(Json(Value::Object(page)))
}

#[filibuster::call]
async fn get_profile(deps: &Deps, user: &str) -> reqwest::Result<reqwest::Response> {
    deps.http
        .get(format!("{}/profiles/{user}", deps.peers.user_profile))
        .timeout(Duration::from_secs(10))
        .send()
        .await
}

#[filibuster::call]
async fn get_bookmarks(deps: &Deps, user: &str) -> reqwest::Result<reqwest::Response> {
    deps.http
        .get(format!("{}/bookmarks/{user}", deps.peers.bookmarks))
        .timeout(Duration::from_secs(10))
        .send()
        .await
}

#[filibuster::call]
async fn get_trending(deps: &Deps) -> reqwest::Result<reqwest::Response> {
    deps.http.get(format!("{}/trending", deps.peers.trending)).timeout(Duration::from_secs(10)).send().await
}

#[filibuster::call]
async fn get_my_list(deps: &Deps, user: &str) -> reqwest::Result<reqwest::Response> {
    deps.http
        .get(format!("{}/lists/{user}", deps.peers.my_list))
        .timeout(Duration::from_secs(10))
        .send()
        .await
}

#[filibuster::call]
async fn get_user_recommendations(deps: &Deps, user: &str) -> reqwest::Result<reqwest::Response> {
    deps.http
        .get(format!("{}/recommendations/{user}", deps.peers.user_recommendations))
        .timeout(Duration::from_secs(10))
        .send()
        .await
}

#[filibuster::call]
async fn get_global_recommendations(deps: &Deps) -> reqwest::Result<reqwest::Response> {
    deps.http
        .get(format!("{}/recommendations", deps.peers.global_recommendations))
        .timeout(Duration::from_secs(10))
        .send()
        .await
}

// ----- user-profile -----------------------------------------------------------

/// `user-profile`: `GET /profiles/{user}`; logs the sign-in to `telemetry`
/// (whose failure changes nothing).
pub fn user_profile(peers: Peers, http: reqwest::Client) -> Router {
    Router::new().route("/profiles/{user}", get(profile)).with_state(Deps { peers: Arc::new(peers), http })
}

#[filibuster::handler(service = "user-profile")]
async fn profile(State(deps): State<Deps>, Path(user): Path<String>) -> Result<Json<Value>, Error> {
    if user != USER {
        return Err(Error::NotFound(format!("no user {user}")));
    }
    let _ = post_sign_in(&deps, &user).await;
    Ok(Json(json!({ "user": user, "name": "Ada L.", "plan": "premium", "language": "en" })))
}

#[filibuster::call]
async fn post_sign_in(deps: &Deps, user: &str) -> reqwest::Result<reqwest::Response> {
    deps.http
        .post(format!("{}/events", deps.peers.telemetry))
        .json(&json!({ "event": "sign_in", "user": user }))
        .timeout(Duration::from_secs(10))
        .send()
        .await
}

// ----- telemetry --------------------------------------------------------------

/// `telemetry`: `POST /events`, accepted and dropped.
pub fn telemetry() -> Router {
    Router::new().route("/events", post(event))
}

#[filibuster::handler(service = "telemetry")]
async fn event(Json(_event): Json<Value>) -> StatusCode {
    StatusCode::OK
}

// ----- bookmarks --------------------------------------------------------------

/// `bookmarks`: `GET /bookmarks/{user}`, the titles being watched.
pub fn bookmarks() -> Router {
    Router::new().route("/bookmarks/{user}", get(user_bookmarks))
}

#[filibuster::handler(service = "bookmarks")]
async fn user_bookmarks(Path(user): Path<String>) -> Result<Json<Value>, Error> {
    if user != USER {
        return Err(Error::NotFound(format!("no bookmarks for {user}")));
    }
    Ok(Json(json!([{ "id": "t2", "position_s": 1312 }, { "id": "t5", "position_s": 64 }])))
}

// ----- trending ---------------------------------------------------------------

/// `trending`: `GET /trending`, the same for everyone.
pub fn trending() -> Router {
    Router::new().route("/trending", get(trending_titles))
}

#[filibuster::handler(service = "trending")]
async fn trending_titles() -> Json<Value> {
    Json(json!(["t4", "t1", "t6"]))
}

// ----- my-list ----------------------------------------------------------------

/// `my-list`: `GET /lists/{user}`, the titles the user saved, described by
/// `catalog` (required).
pub fn my_list(peers: Peers, http: reqwest::Client) -> Router {
    Router::new().route("/lists/{user}", get(list)).with_state(Deps { peers: Arc::new(peers), http })
}

#[filibuster::handler(service = "my-list")]
async fn list(State(deps): State<Deps>, Path(user): Path<String>) -> Result<Json<Vec<Title>>, Error> {
    if user != USER {
        return Err(Error::NotFound(format!("no list for {user}")));
    }
    let titles: Vec<Title> =
        ok_json(get_titles(&deps, "t1,t3").await).await.ok_or_else(|| unavailable("catalog"))?;
    Ok(Json(titles))
}

#[filibuster::call]
async fn get_titles(deps: &Deps, ids: &str) -> reqwest::Result<reqwest::Response> {
    deps.http
        .get(format!("{}/titles/{ids}", deps.peers.catalog))
        .timeout(Duration::from_secs(10))
        .send()
        .await
}

// ----- catalog ----------------------------------------------------------------

/// `catalog`: `GET /titles/{ids}` (ids separated by commas).
pub fn catalog() -> Router {
    Router::new().route("/titles/{ids}", get(titles))
}

#[filibuster::handler(service = "catalog")]
async fn titles(Path(ids): Path<String>) -> Result<Json<Vec<Title>>, Error> {
    ids.split(',')
        .map(|id| catalog_entry(id).ok_or_else(|| Error::NotFound(format!("no title {id}"))))
        .collect::<Result<Vec<_>, _>>()
        .map(Json)
}

// ----- user-recommendations ---------------------------------------------------

/// `user-recommendations`: `GET /recommendations/{user}`, from the user's
/// ratings (required).
pub fn user_recommendations(peers: Peers, http: reqwest::Client) -> Router {
    Router::new()
        .route("/recommendations/{user}", get(recommendations))
        .with_state(Deps { peers: Arc::new(peers), http })
}

#[filibuster::handler(service = "user-recommendations")]
async fn recommendations(
    State(deps): State<Deps>,
    Path(user): Path<String>,
) -> Result<Json<Vec<String>>, Error> {
    let ratings: Vec<(String, u8)> =
        ok_json(get_ratings(&deps, &user).await).await.ok_or_else(|| unavailable("ratings"))?;
    // Titles like the best rated, unseen.
    let liked = ratings.iter().filter(|(_, stars)| *stars >= 4).count();
    let picks = ["t6", "t4", "t5"];
    Ok(Json(picks.iter().take(liked + 1).map(|id| (*id).to_owned()).collect()))
}

#[filibuster::call]
async fn get_ratings(deps: &Deps, user: &str) -> reqwest::Result<reqwest::Response> {
    deps.http
        .get(format!("{}/ratings/{user}", deps.peers.ratings))
        .timeout(Duration::from_secs(10))
        .send()
        .await
}

// ----- ratings ----------------------------------------------------------------

/// `ratings`: `GET /ratings/{user}`, `[title id, stars]` pairs.
pub fn ratings() -> Router {
    Router::new().route("/ratings/{user}", get(user_ratings))
}

#[filibuster::handler(service = "ratings")]
async fn user_ratings(Path(user): Path<String>) -> Result<Json<Value>, Error> {
    if user != USER {
        return Err(Error::NotFound(format!("no ratings for {user}")));
    }
    Ok(Json(json!([["t1", 5], ["t3", 4], ["t2", 2]])))
}

// ----- global-recommendations -------------------------------------------------

/// `global-recommendations`: `GET /recommendations`, the same for everyone.
pub fn global_recommendations() -> Router {
    Router::new().route("/recommendations", get(global))
}

#[filibuster::handler(service = "global-recommendations")]
async fn global() -> Json<Value> {
    Json(json!(["t1", "t2"]))
}

// ----- running and checking ---------------------------------------------------

/// The ten services, served on ephemeral ports of `ip`, each router layered
/// by `layer` (e.g. `|router| router.layer(connection.layer())`), calling
/// one another with `http`: the gateway's base URL and the servers' tasks.
pub async fn start(
    ip: std::net::IpAddr,
    http: reqwest::Client,
    layer: impl Fn(Router) -> Router,
) -> std::io::Result<(String, Vec<tokio::task::JoinHandle<()>>)> {
    let mut tasks = Vec::new();
    let mut serve = async |router: Router| -> std::io::Result<String> {
        let (addr, task) = super::app::serve(layer(router), SocketAddr::new(ip, 0)).await?;
        tasks.push(task);
        Ok(format!("http://{addr}"))
    };
    let mut peers = Peers {
        telemetry: serve(telemetry()).await?,
        bookmarks: serve(bookmarks()).await?,
        trending: serve(trending()).await?,
        catalog: serve(catalog()).await?,
        ratings: serve(ratings()).await?,
        global_recommendations: serve(global_recommendations()).await?,
        ..Peers::default()
    };
    peers.user_profile = serve(user_profile(peers.clone(), http.clone())).await?;
    peers.my_list = serve(my_list(peers.clone(), http.clone())).await?;
    peers.user_recommendations = serve(user_recommendations(peers.clone(), http.clone())).await?;
    let gateway = serve(api_gateway(peers, http)).await?;
    Ok((gateway, tasks))
}

/// The homepage of [`USER`] when nothing fails.
pub fn full_homepage() -> Value {
    json!({
        "profile": { "user": USER, "name": "Ada L.", "plan": "premium", "language": "en" },
        "continue_watching": [{ "id": "t2", "position_s": 1312 }, { "id": "t5", "position_s": 64 }],
        "my_list": [
            { "id": "t1", "name": "The Long Dark", "year": 2019 },
            { "id": "t3", "name": "Nine Summers", "year": 2016 },
        ],
        "recommendations": { "source": "personal", "titles": ["t6", "t4", "t5"] },
    })
}

/// The functional test: `GET /homepage/ada` on the gateway at `gateway_url`
/// answers the full homepage when no fault was injected; when one was, 503
/// (no profile) or a page whose rows are each the full page's, a fallback
/// of it, or left out. The error says what was seen instead.
pub async fn check_homepage(
    http: &reqwest::Client,
    gateway_url: &str,
    fault_injected: impl AsyncFnOnce() -> bool,
) -> Result<(), String> {
    let url = format!("{gateway_url}/homepage/{USER}");
    let response = http
        .get(&url)
        .timeout(Duration::from_secs(60))
        .send()
        .await
        .map_err(|error| format!("GET {url} failed: {error}"))?;
    let status = response.status();
    let body = response.text().await.map_err(|error| format!("GET {url}: cannot read the body: {error}"))?;
    let full = full_homepage();
    if !fault_injected().await {
        return match serde_json::from_str::<Value>(&body) {
            Ok(page) if status == StatusCode::OK && page == full => Ok(()),
            _ => Err(format!(
                "no fault was injected, so GET {url} should answer the full page: {status} {body}"
            )),
        };
    }
    if status == StatusCode::SERVICE_UNAVAILABLE {
        return Ok(());
    }
    let page: Value = match (status, serde_json::from_str(&body)) {
        (StatusCode::OK, Ok(page)) => page,
        _ => return Err(format!("GET {url} should answer 200 with a page or 503: {status} {body}")),
    };
    let Some(rows) = page.as_object() else { return Err(format!("GET {url}: not a page: {body}")) };
    let trending = json!(["t4", "t1", "t6"]);
    for (row, value) in rows {
        let fine = match row.as_str() {
            "trending" => *value == trending && !rows.contains_key("continue_watching"),
            "recommendations" => {
                *value == full[row] || *value == json!({ "source": "global", "titles": ["t1", "t2"] })
            }
            _ => full.get(row) == Some(value),
        };
        if !fine {
            return Err(format!("GET {url}: the row {row} is wrong: {value}"));
        }
    }
    if !rows.contains_key("profile") {
        return Err(format!("GET {url}: a page without the profile: {body}"));
    }
    Ok(())
}
