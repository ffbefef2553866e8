//! `#[filibuster::dependency]` on the fns services write: free fns,
//! methods taking `&self`, generic fns, `?` and early returns, an alias of
//! `Result`, and an error type of the service's own.

use filibuster::InjectFault;

#[derive(Debug)]
enum BlobError {
    Unavailable,
}

impl InjectFault for BlobError {
    const MODULE: &'static str = "blob_store";
    const FAULTS: &'static [&'static str] = &["blob_store.Unavailable"];

    fn inject(name: &str) -> Option<Self> {
        (name == "blob_store.Unavailable").then_some(BlobError::Unavailable)
    }

    fn fault_name(&self) -> Option<&'static str> {
        Some("blob_store.Unavailable")
    }
}

struct Store {
    pool: sqlx::SqlitePool,
}

impl Store {
    #[filibuster::dependency("sqlite", operation = "count orders")]
    async fn count(&self) -> sqlx::Result<i64> {
        let (count,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM orders").fetch_one(&self.pool).await?;
        if count < 0 {
            return Err(sqlx::Error::RowNotFound);
        }
        Ok(count)
    }
}

#[filibuster::dependency("blob-store", id = "blob-fetch")]
pub async fn fetch<K: AsRef<str> + Send>(key: K) -> Result<Vec<u8>, BlobError> {
    if key.as_ref().is_empty() {
        return Err(BlobError::Unavailable);
    }
    Ok(key.as_ref().as_bytes().to_vec())
}

#[filibuster::dependency("disk")]
async fn read(path: &std::path::Path) -> std::io::Result<String> {
    tokio::fs::read_to_string(path).await
}

fn assert_send<T: Send>(_: T) {}

/// The futures are `Send`, as axum handlers need them.
#[allow(dead_code)]
fn futures_are_send(store: &Store) {
    assert_send(store.count());
    assert_send(fetch("key"));
    assert_send(read(std::path::Path::new("/")));
}

fn main() {}
