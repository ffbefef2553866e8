#[filibuster::dependency("postgres")]
fn insert_order(item: &str) -> Result<i64, std::io::Error> {
    Ok(item.len() as i64)
}

fn main() {}
