#[filibuster::call]
struct BookingsClient {
    http: reqwest::Client,
}

fn main() {}
