#[filibuster::dependency("postgres")]
async fn insert_order(item: &str) {
    let _ = item;
}

fn main() {}
