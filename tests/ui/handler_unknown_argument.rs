#[filibuster::handler(service = "users", timeout = 5)]
async fn users() -> &'static str {
    "users"
}

fn main() {}
