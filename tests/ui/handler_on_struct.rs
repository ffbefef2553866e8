#[filibuster::handler(service = "users")]
struct Users {
    name: String,
}

fn main() {}
