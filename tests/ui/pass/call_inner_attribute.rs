// An inner attribute at the top of a #[filibuster::call] fn's body applies
// to the fn: without it, `unused` below fails this crate's `deny`.
#![deny(unused_variables)]

#[filibuster::call]
async fn bookings(http: &reqwest::Client) -> reqwest::Result<reqwest::Response> {
    #![allow(unused_variables)]
    let unused = 1;
    http.get("http://bookings/bookings/chris").send().await
}

fn main() {
    let _ = bookings;
}
