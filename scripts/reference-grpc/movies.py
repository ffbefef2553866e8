"""movies: a gRPC service that knows one movie.

Instrumented by the reference's gRPC server interceptor. Environment: PORT
(default 5033), FILIBUSTER_URL (default http://127.0.0.1:5005).
"""
import os
from concurrent import futures

import grpc
from filibuster.instrumentation.grpc import GrpcInstrumentorServer

import cinema_pb2
import cinema_pb2_grpc

MOVIES = {"267eedb8-0f5d-42d5-8f43-72426b9fb3e6": "Creed"}


class Movies(cinema_pb2_grpc.MoviesServicer):
    def GetMovie(self, request, context):
        if request.id not in MOVIES:
            context.abort(grpc.StatusCode.NOT_FOUND, "no movie " + request.id)
        return cinema_pb2.Movie(id=request.id, title=MOVIES[request.id])


def main():
    filibuster_url = os.environ.get("FILIBUSTER_URL", "http://127.0.0.1:5005")
    GrpcInstrumentorServer().instrument(service_name="movies", filibuster_url=filibuster_url)
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))  # grpc.server is wrapped by now
    cinema_pb2_grpc.add_MoviesServicer_to_server(Movies(), server)
    server.add_insecure_port("127.0.0.1:" + os.environ.get("PORT", "5033"))
    server.start()
    server.wait_for_termination()


if __name__ == "__main__":
    main()
