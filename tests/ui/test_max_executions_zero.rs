#[filibuster::test(max_executions = 0)]
async fn explores(_ctx: filibuster::TestContext) {}

fn main() {}
