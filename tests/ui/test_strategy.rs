#[filibuster::test(strategy = "random")]
async fn explores(_ctx: filibuster::TestContext) {}

fn main() {}
