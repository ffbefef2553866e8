"""bookings: a gRPC service that asks movies for the title of a user's booking.

Instrumented by the reference's gRPC server and client interceptors. A failed
call to movies fails GetBookings with the same status code. Environment: PORT
(default 5032), MOVIES_ADDR (default 127.0.0.1:5033), FILIBUSTER_URL (default
http://127.0.0.1:5005).
"""
import os
from concurrent import futures

import grpc
from filibuster.instrumentation.grpc import GrpcInstrumentorClient, GrpcInstrumentorServer

import cinema_pb2
import cinema_pb2_grpc

BOOKINGS = {"chris_rivers": "267eedb8-0f5d-42d5-8f43-72426b9fb3e6"}


class Bookings(cinema_pb2_grpc.BookingsServicer):
    def __init__(self, movies):
        self.movies = movies

    def GetBookings(self, request, context):
        if request.user not in BOOKINGS:
            context.abort(grpc.StatusCode.NOT_FOUND, "no bookings for " + request.user)
        try:
            movie = self.movies.GetMovie(cinema_pb2.MovieRequest(id=BOOKINGS[request.user]), timeout=5)
        except grpc.RpcError as err:
            context.abort(err.code(), "movies failed: " + str(err.details()))
        return cinema_pb2.BookingsReply(user=request.user, movies=[movie.title])


def main():
    filibuster_url = os.environ.get("FILIBUSTER_URL", "http://127.0.0.1:5005")
    GrpcInstrumentorServer().instrument(service_name="bookings", filibuster_url=filibuster_url)
    GrpcInstrumentorClient().instrument(service_name="bookings", filibuster_url=filibuster_url)
    movies = cinema_pb2_grpc.MoviesStub(grpc.insecure_channel(os.environ.get("MOVIES_ADDR", "127.0.0.1:5033")))
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    cinema_pb2_grpc.add_BookingsServicer_to_server(Bookings(movies), server)
    server.add_insecure_port("127.0.0.1:" + os.environ.get("PORT", "5032"))
    server.start()
    server.wait_for_termination()


if __name__ == "__main__":
    main()
