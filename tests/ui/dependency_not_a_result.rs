#[filibuster::dependency("postgres")]
async fn find_order(id: i64) -> Option<String> {
    Some(id.to_string())
}

fn main() {}
