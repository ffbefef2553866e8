#[filibuster::call]
async fn bookings(http: &reqwest::Client) -> Vec<reqwest::Result<reqwest::Response>> {
    vec![http.get("http://bookings/bookings/chris").send().await]
}

fn main() {}
