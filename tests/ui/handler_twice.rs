#[filibuster::handler(service = "users")]
#[filibuster::handler(service = "users")]
async fn users() -> &'static str {
    "users"
}

fn main() {}
