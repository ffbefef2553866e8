#[filibuster::test]
fn explores(_ctx: filibuster::TestContext) {}

fn main() {}
