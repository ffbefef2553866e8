//! The shop: two services, each with its own SQLite database, reached
//! through sqlx.
//!
//! - `orders`, for `POST /orders` with `{"item": "tea"}`, asks `inventory`
//!   to reserve the item (an HTTP call), then writes the order into its
//!   database (a dependency call) and answers 201 with the order;
//! - `inventory`, for `POST /reserve/{item}`, takes one off the item's
//!   stock in its database (a dependency call): 200, or 409 when none is
//!   left.
//!
//! Every handler has `#[filibuster::handler]`, the call between the
//! services goes through a `#[filibuster::call]` fn and each database call
//! through a `#[filibuster::dependency("sqlite")]` fn, so that an
//! exploration fails each of them: the HTTP call with connection errors,
//! timeouts and error statuses, the database calls with `sqlx::Error`'s
//! own `PoolTimedOut` and I/O errors. The app answers 503 when either fails,
//! and never confirms an order it did not write ([`check_order`]), unless
//! its planted bug is on ([`Bug::ConfirmUnwrittenOrders`]).
//!
//! The `shop` example explores it (`examples/shop.rs`); the callsites the
//! reports show are in this file, `examples/shop/src/lib.rs`.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::post;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sqlx::SqlitePool;

/// What the planted bug is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Bug {
    /// No bug.
    None,
    /// `orders` confirms an order whose row it failed to write, as if the
    /// write were sure to succeed later: the customer is told "confirmed",
    /// and the order is lost.
    ConfirmUnwrittenOrders,
}

/// An order, as `orders` answers it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Order {
    /// Its row id in `orders`' database.
    pub id: i64,
    /// What was ordered.
    pub item: String,
    /// `confirmed`.
    pub status: String,
}

/// The body of `POST /orders`.
#[derive(Debug, Deserialize)]
struct NewOrder {
    item: String,
}

/// A database of one connection, kept for the life of the pool: each
/// connection to `sqlite::memory:` has its own database.
pub async fn memory_database(schema: &[&str]) -> Result<SqlitePool, sqlx::Error> {
    let pool = sqlx::sqlite::SqlitePoolOptions::new()
        .max_connections(1)
        .idle_timeout(None)
        .max_lifetime(None)
        .connect("sqlite::memory:")
        .await?;
    for statement in schema {
        sqlx::query(statement).execute(&pool).await?;
    }
    Ok(pool)
}

// ----- inventory -----

/// `inventory`: stock by item, 1000 of each of tea, jam and scones.
pub fn inventory(db: SqlitePool) -> Router {
    Router::new().route("/reserve/{item}", post(reserve)).with_state(db)
}

/// The schema and stock of `inventory`'s database.
pub const INVENTORY_SCHEMA: &[&str] = &[
    "CREATE TABLE stock (item TEXT PRIMARY KEY, count INTEGER NOT NULL)",
    "INSERT INTO stock VALUES ('tea', 1000), ('jam', 1000), ('scones', 1000)",
];

/// Takes one `item` off the stock: whether there was one.
#[filibuster::dependency("sqlite")]
async fn take_from_stock(db: &SqlitePool, item: &str) -> Result<bool, sqlx::Error> {
    let done = sqlx::query("UPDATE stock SET count = count - 1 WHERE item = ? AND count > 0")
        .bind(item)
        .execute(db)
        .await?;
    Ok(done.rows_affected() == 1)
}

#[filibuster::handler(service = "inventory")]
async fn reserve(State(db): State<SqlitePool>, Path(item): Path<String>) -> (StatusCode, Json<Value>) {
    match take_from_stock(&db, &item).await {
        Ok(true) => (StatusCode::OK, Json(json!({ "reserved": item }))),
        Ok(false) => (StatusCode::CONFLICT, Json(json!({ "error": format!("no {item} left") }))),
        Err(error) => {
            tracing::warn!(%error, "cannot update the stock");
            (StatusCode::SERVICE_UNAVAILABLE, Json(json!({ "error": "the stock is unavailable" })))
        }
    }
}

// ----- orders -----

/// What `orders` needs.
#[derive(Clone)]
struct Orders {
    db: SqlitePool,
    http: reqwest::Client,
    inventory_url: Arc<str>,
    bug: Bug,
}

/// `orders`, whose database is `db` and which reaches `inventory` at
/// `inventory_url`.
pub fn orders(db: SqlitePool, inventory_url: &str, bug: Bug) -> Router {
    let orders = Orders { db, http: reqwest::Client::new(), inventory_url: inventory_url.into(), bug };
    Router::new().route("/orders", post(place_order)).with_state(orders)
}

/// The schema of `orders`' database.
pub const ORDERS_SCHEMA: &[&str] = &["CREATE TABLE orders (id INTEGER PRIMARY KEY, item TEXT NOT NULL)"];

/// Asks `inventory` to reserve `item`, waiting at most 2 s.
#[filibuster::call]
async fn reserve_item(orders: &Orders, item: &str) -> reqwest::Result<reqwest::Response> {
    let url = format!("{}/reserve/{item}", orders.inventory_url);
    orders.http.post(url).timeout(Duration::from_secs(2)).send().await
}

/// Writes the order: its row id.
#[filibuster::dependency("sqlite")]
async fn insert_order(db: &SqlitePool, item: &str) -> Result<i64, sqlx::Error> {
    let (id,): (i64,) =
        sqlx::query_as("INSERT INTO orders (item) VALUES (?) RETURNING id").bind(item).fetch_one(db).await?;
    Ok(id)
}

#[filibuster::handler(service = "orders")]
async fn place_order(State(orders): State<Orders>, Json(order): Json<NewOrder>) -> (StatusCode, Json<Value>) {
    let unavailable = |what: &str| (StatusCode::SERVICE_UNAVAILABLE, Json(json!({ "error": what })));
    match reserve_item(&orders, &order.item).await {
        Ok(response) if response.status() == StatusCode::OK => {}
        Ok(response) if response.status() == StatusCode::CONFLICT => {
            return (StatusCode::CONFLICT, Json(json!({ "error": format!("no {} left", order.item) })));
        }
        Ok(_) | Err(_) => return unavailable("the inventory is unavailable"),
    }
    let id = match insert_order(&orders.db, &order.item).await {
        Ok(id) => id,
        // The bug: the order is confirmed as if its row would be written later.
        Err(error) if orders.bug == Bug::ConfirmUnwrittenOrders => {
            tracing::warn!(%error, "cannot write the order; confirming it anyway");
            0
        }
        Err(error) => {
            tracing::warn!(%error, "cannot write the order");
            return unavailable("the order could not be written");
        }
    };
    let confirmed = Order { id, item: order.item, status: "confirmed".to_owned() };
    (StatusCode::CREATED, Json(json!(confirmed)))
}

// ----- the whole shop -----

/// The shop, started: its services' base URLs, and `orders`' database.
#[derive(Debug)]
pub struct Started {
    /// `orders`' base URL.
    pub orders: String,
    /// `inventory`'s base URL.
    pub inventory: String,
    /// `orders`' database, where a confirmed order must be.
    pub orders_db: SqlitePool,
}

/// Starts both services on ephemeral ports of 127.0.0.1, connected to
/// `connection`.
pub async fn start(connection: &filibuster::Connection, bug: Bug) -> Result<Started, String> {
    let database = |schema| async move {
        memory_database(schema).await.map_err(|error| format!("cannot open a database: {error}"))
    };
    let layer = connection.layer();
    let serve = |router: Router| async move {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.map_err(|e| e.to_string())?;
        let url = format!("http://{}", listener.local_addr().map_err(|e| e.to_string())?);
        tokio::spawn(async move { axum::serve(listener, router).await });
        Ok::<String, String>(url)
    };
    let inventory = serve(inventory(database(INVENTORY_SCHEMA).await?).layer(layer.clone())).await?;
    let orders_db = database(ORDERS_SCHEMA).await?;
    let orders = serve(self::orders(orders_db.clone(), &inventory, bug).layer(layer)).await?;
    Ok(Started { orders, inventory, orders_db })
}

/// The functional test: orders tea from `orders` and checks that an order
/// it confirms is in `orders_db`, and that without a fault the order is
/// confirmed. With a fault, the shop may refuse the order (503), never
/// confirm one it lost.
pub async fn check_order(
    http: &reqwest::Client,
    orders_url: &str,
    orders_db: &SqlitePool,
    fault_injected: impl AsyncFnOnce() -> bool,
) -> Result<(), String> {
    let url = format!("{orders_url}/orders");
    let response = http
        .post(&url)
        .json(&json!({ "item": "tea" }))
        .timeout(Duration::from_secs(60))
        .send()
        .await
        .map_err(|error| format!("POST {url} failed: {error}"))?;
    let status = response.status();
    let body = response.text().await.map_err(|error| format!("POST {url}: cannot read the body: {error}"))?;
    if status == StatusCode::CREATED {
        let order: Order = serde_json::from_str(&body)
            .map_err(|error| format!("POST {url} answered 201 with no order ({error}): {body}"))?;
        let stored: Option<(String,)> = sqlx::query_as("SELECT item FROM orders WHERE id = ?")
            .bind(order.id)
            .fetch_optional(orders_db)
            .await
            .map_err(|error| format!("cannot read the orders: {error}"))?;
        return match stored {
            Some((item,)) if item == order.item => Ok(()),
            _ => Err(format!(
                "order {} was confirmed ({body}), but it is not in the orders' database",
                order.id
            )),
        };
    }
    if fault_injected().await && status == StatusCode::SERVICE_UNAVAILABLE {
        return Ok(());
    }
    Err(format!("POST {url} answered {status}: {body}"))
}
