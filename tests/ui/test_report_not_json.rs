// `report` names the JSON file; an HTML name would get the JSON inside it.
#[filibuster::test(report = "target/checkout.html")]
async fn checkout(_ctx: filibuster::TestContext) {}

fn main() {}
