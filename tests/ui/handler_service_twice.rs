#[filibuster::handler(service = "users", service = "movies")]
async fn users() -> &'static str {
    "users"
}

fn main() {}
