// #[filibuster::call] on impl blocks, inherent and of a trait, generic, with
// methods without `.send()` and a method with its own attribute.
struct BookingsClient<T> {
    http: reqwest::Client,
    user: T,
}

#[filibuster::call(timeout = 10)]
impl<T: std::fmt::Display> BookingsClient<T> {
    fn new(http: reqwest::Client, user: T) -> Self {
        Self { http, user }
    }

    async fn bookings(&self) -> reqwest::Result<reqwest::Response> {
        self.http.get(format!("http://bookings/bookings/{}", self.user)).send().await
    }

    #[filibuster::call(id = "bookings-page-2", timeout = 2)]
    fn second_page(&self) -> impl Future<Output = reqwest::Result<reqwest::Response>> {
        self.http.get(format!("http://bookings/bookings/{}?page=2", self.user)).send()
    }
}

trait Fetch {
    async fn fetch(&self) -> reqwest::Result<reqwest::Response>;
}

#[filibuster::call]
impl<T: std::fmt::Display> Fetch for BookingsClient<T> {
    async fn fetch(&self) -> reqwest::Result<reqwest::Response> {
        self.http.get("http://bookings/bookings").send().await
    }
}

fn main() {
    let client = BookingsClient::new(reqwest::Client::new(), "chris");
    let _ = (client.bookings(), client.second_page(), client.fetch());
}
