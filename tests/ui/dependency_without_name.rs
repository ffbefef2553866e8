#[filibuster::dependency]
async fn insert_order(item: &str) -> Result<i64, std::io::Error> {
    Ok(item.len() as i64)
}

#[filibuster::dependency(operation = "insert")]
async fn insert_item(item: &str) -> Result<i64, std::io::Error> {
    Ok(item.len() as i64)
}

fn main() {}
