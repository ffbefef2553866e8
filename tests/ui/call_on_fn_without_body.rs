trait Bookings {
    #[filibuster::call]
    async fn bookings(&self) -> reqwest::Result<reqwest::Response>;
}

fn main() {}
