#[filibuster::handler(service = "users")]
fn users() -> &'static str {
    "users"
}

fn main() {}
