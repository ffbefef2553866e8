// A syntax error in the body is reported as a syntax error, not as a
// misuse of the attribute.
#[filibuster::call]
async fn bookings(http: &reqwest::Client) -> reqwest::Result<reqwest::Response> {
    let x = ;
    http.get("http://bookings/bookings/chris").send().await
}

fn main() {}
