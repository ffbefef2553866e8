#[filibuster::call(timeout = 0)]
async fn bookings(http: &reqwest::Client) -> reqwest::Result<reqwest::Response> {
    http.get("http://bookings/bookings/chris").send().await
}

#[filibuster::call(timeout = -2.5)]
async fn movies(http: &reqwest::Client) -> reqwest::Result<reqwest::Response> {
    http.get("http://movies/movies/1").send().await
}

fn main() {}
