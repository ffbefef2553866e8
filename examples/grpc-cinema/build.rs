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
    let list_movies = Method::builder()
        .name("list_movies")
        .route_name("ListMovies")
        .input_type("crate::ListMoviesRequest")
        .output_type("crate::MovieReply")
        .codec_path("tonic_prost::ProstCodec")
        .server_streaming()
        .build();
    let movies = Service::builder()
        .name("Movies")
        .package("cinema")
        .method(unary("get_movie", "GetMovie", "crate::MovieRequest", "crate::MovieReply"))
        .method(list_movies)
        .build();
    Builder::new().compile(&[bookings, movies]);
}
