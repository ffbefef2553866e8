// A syntax error in the body is rustc's error alone: the attribute does not
// add one of its own.
#[filibuster::handler(service = "users")]
async fn users() -> &'static str {
    let x = ;
    "users"
}

fn main() {}
