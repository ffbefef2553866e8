#[filibuster::handler("users")]
async fn users() -> &'static str {
    "users"
}

fn main() {}
