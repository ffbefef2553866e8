#[filibuster::call(timeout = 10, id = "bookings-fetch", timeout = 5)]
async fn bookings(http: &reqwest::Client) -> reqwest::Result<reqwest::Response> {
    http.get("http://bookings/bookings/chris").send().await
}

fn main() {}
