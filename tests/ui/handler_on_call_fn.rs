// `#[filibuster::handler]` where `#[filibuster::call]` belongs: a fn that
// sends a request, taking references.
#[filibuster::handler(service = "users")]
async fn fetch_bookings(http: &reqwest::Client, url: &str) -> reqwest::Result<reqwest::Response> {
    http.get(url).send().await
}

fn main() {}
