// #[filibuster::call] on a method, with `self`.
struct Bookings {
    http: reqwest::Client,
}

impl Bookings {
    #[filibuster::call(id = "bookings-fetch")]
    async fn fetch(&self, user: &str) -> reqwest::Result<reqwest::Response> {
        self.http.get(format!("http://bookings/bookings/{user}")).send().await
    }
}

fn main() {
    let _ = Bookings::fetch;
}
