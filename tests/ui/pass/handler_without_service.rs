// Without `service = ".."`, the service is named by `OTEL_SERVICE_NAME` at
// run time, else by this package's name.
#[filibuster::handler]
async fn users() -> &'static str {
    "users"
}

#[filibuster::handler()]
async fn bookings(axum::extract::Path(user): axum::extract::Path<String>) -> String {
    user
}

fn main() {
    let _ = axum::Router::<()>::new()
        .route("/users", axum::routing::get(users))
        .route("/bookings/{user}", axum::routing::get(bookings));
}
