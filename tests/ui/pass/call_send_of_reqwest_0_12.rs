// A `.send()` of reqwest 0.12's `RequestBuilder`, in an app midway through
// its move to reqwest 0.13: instrumented with filibuster's `reqwest-0_12`
// feature (on in this package's tests).

#[filibuster::call]
async fn fetch(http: &reqwest_0_12::Client) -> Result<String, reqwest_0_12::Error> {
    http.get("http://bookings/bookings").send().await?.text().await
}

fn main() {}
