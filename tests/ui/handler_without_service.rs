#[filibuster::handler]
async fn users() -> &'static str {
    "users"
}

fn main() {}
