#[filibuster::test(execution_timeout = 0)]
async fn explores(_ctx: filibuster::TestContext) {}

fn main() {}
