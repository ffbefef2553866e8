#[filibuster::dependency("postgres", timeout = 5)]
async fn insert_order(item: &str) -> Result<i64, std::io::Error> {
    Ok(item.len() as i64)
}

fn main() {}
