struct BookingsClient {
    http: reqwest::Client,
}

#[filibuster::call]
impl BookingsClient {
    async fn bookings(&self) -> reqwest::Result<reqwest::Response> {
        self.http.get("http://bookings/bookings/chris").send().await
    }
}

fn main() {}
