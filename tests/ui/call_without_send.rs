#[filibuster::call]
async fn bookings(http: &reqwest::Client) -> reqwest::RequestBuilder {
    http.get("http://bookings/bookings/chris")
}

fn main() {}
