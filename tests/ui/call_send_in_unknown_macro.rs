macro_rules! my_macro {
    ($request:expr) => {
        $request
    };
}

#[filibuster::call]
async fn bookings(http: &reqwest::Client) -> reqwest::Result<reqwest::Response> {
    my_macro!(http.get("http://bookings/bookings/chris").send()).await
}

fn main() {}
