#[filibuster::test]
async fn explores(_ctx: filibuster::TestContext, users: &String) {
    let _ = users;
}

fn main() {}
