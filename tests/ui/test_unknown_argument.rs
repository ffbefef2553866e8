#[filibuster::test(max_tests = 10)]
async fn explores(_ctx: filibuster::TestContext) {}

fn main() {}
