// A fn that is not async and has no `.send()`: nothing to instrument (an
// async one may make RPCs, and is said at run time if it makes none).
#[filibuster::call]
fn bookings(http: &reqwest::Client) -> reqwest::RequestBuilder {
    http.get("http://bookings/bookings/chris")
}

fn main() {}
