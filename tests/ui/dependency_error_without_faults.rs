#[derive(Debug)]
struct StoreError;

#[filibuster::dependency("blob-store")]
async fn fetch_blob(key: &str) -> Result<Vec<u8>, StoreError> {
    let _ = key;
    Err(StoreError)
}

fn main() {}
