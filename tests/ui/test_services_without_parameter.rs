async fn start(_connection: filibuster::Connection) -> String {
    String::new()
}

#[filibuster::test(services = start)]
async fn explores(_ctx: filibuster::TestContext) {}

fn main() {}
