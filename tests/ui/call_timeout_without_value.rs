#[filibuster::call(id = "bookings-fetch", timeout)]
async fn bookings(http: &reqwest::Client) -> reqwest::Result<reqwest::Response> {
    http.get("http://bookings/bookings/chris").send().await
}

fn main() {}
