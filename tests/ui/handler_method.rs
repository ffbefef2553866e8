struct Users;

impl Users {
    #[filibuster::handler(service = "users")]
    async fn users(&self) -> &'static str {
        "users"
    }
}

fn main() {}
