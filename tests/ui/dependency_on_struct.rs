#[filibuster::dependency("postgres")]
struct Orders {
    pool: u32,
}

fn main() {}
