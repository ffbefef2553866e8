#[filibuster::handler(service = "")]
async fn users() -> &'static str {
    "users"
}

fn main() {}
