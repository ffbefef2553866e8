//! The tonic stubs of the cinema's two gRPC services, from
//! `tonic_build::manual`: the messages are hand-written prost structs in
//! `src/lib.rs`, so there is no `.proto` and no protoc to install.

use tonic_build::manual::{Builder, Method, Service};

fn unary(name: &str, route: &str, input: &str, output: &str) -> Method {
    Method::builder()
        .name(name)
        .route_name(route)
        .input_type(input)
        .output_type(output)
        .codec_path("tonic_prost::ProstCodec")
        .build()
}

fn main() {
    let bookings = Service::builder()
        .name("Bookings")
        .package("cinema")
        .method(unary("get_bookings", "GetBookings", "crate::BookingsRequest", "crate::BookingsReply"))
        .build();
    let movies = Service::builder()
        .name("Movies")
        .package("cinema")
        .method(unary("get_movie", "GetMovie", "crate::MovieRequest", "crate::MovieReply"))
        .build();
    Builder::new().compile(&[bookings, movies]);
}
