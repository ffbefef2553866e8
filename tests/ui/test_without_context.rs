#[filibuster::test]
async fn explores() {}

fn main() {}
