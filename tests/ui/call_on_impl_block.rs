// An id names the calls of one fn: not taken on an impl block.
struct BookingsClient {
    http: reqwest::Client,
}

#[filibuster::call(id = "bookings")]
impl BookingsClient {
    async fn bookings(&self) -> reqwest::Result<reqwest::Response> {
        self.http.get("http://bookings/bookings/chris").send().await
    }
}

fn main() {}
