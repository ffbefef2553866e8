// `impl Trait` in the return type is erased to `_` in the return-type hint,
// so `?` in the body still converts into the declared error type.
use axum::http::StatusCode;
use axum::response::IntoResponse;

fn parse(text: &str) -> Result<u32, std::num::ParseIntError> {
    text.parse()
}

struct Rejection;

impl From<std::num::ParseIntError> for Rejection {
    fn from(_: std::num::ParseIntError) -> Self {
        Rejection
    }
}

impl IntoResponse for Rejection {
    fn into_response(self) -> axum::response::Response {
        StatusCode::BAD_REQUEST.into_response()
    }
}

#[filibuster::handler(service = "users")]
async fn users() -> Result<impl IntoResponse, Rejection> {
    let n = parse("42")?;
    Ok(format!("user {n}"))
}

#[filibuster::handler(service = "users")]
async fn plain() -> impl IntoResponse {
    "users"
}

#[filibuster::handler(service = "users")]
async fn typed() -> Result<String, Rejection> {
    let n = parse("42")?;
    Ok(format!("user {n}"))
}

fn main() {
    let _ = axum::Router::<()>::new()
        .route("/users", axum::routing::get(users))
        .route("/plain", axum::routing::get(plain))
        .route("/typed", axum::routing::get(typed));
}
