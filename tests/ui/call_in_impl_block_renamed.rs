// A method's own attribute under another name is not seen by the impl
// block's: it then finds the method already instrumented.
use filibuster::call as instrument;

struct BookingsClient {
    http: reqwest::Client,
}

#[filibuster::call]
impl BookingsClient {
    #[instrument(timeout = 2)]
    async fn bookings(&self) -> reqwest::Result<reqwest::Response> {
        self.http.get("http://bookings/bookings/chris").send().await
    }
}

fn main() {}
