// "return type inferred to be `u32` here" points at the declared `u32`.
#[filibuster::handler(service = "users")]
async fn users() -> u32 {
    if true {
        return 1;
    }
    "users"
}

fn main() {}
