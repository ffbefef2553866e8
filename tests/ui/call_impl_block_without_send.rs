struct BookingsClient {
    http: reqwest::Client,
}

#[filibuster::call]
impl BookingsClient {
    fn request(&self) -> reqwest::RequestBuilder {
        self.http.get("http://bookings/bookings/chris")
    }
}

fn main() {}
