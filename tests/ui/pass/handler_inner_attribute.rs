// An inner attribute at the top of a handler's body applies to the handler:
// without it, `unused` below fails this crate's `deny`.
#![deny(unused_variables)]

#[filibuster::handler(service = "users")]
async fn users() -> &'static str {
    #![allow(unused_variables)]
    let unused = 1;
    "users"
}

fn main() {
    let _ = axum::Router::<()>::new().route("/users", axum::routing::get(users));
}
