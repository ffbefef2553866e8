#[filibuster::test]
struct Explores;

fn main() {}
