"""users: the HTTP front (Flask), which asks bookings over gRPC.

GET /users/<user>/bookings answers 200 with the user's movies, 404 when
bookings answers NOT_FOUND, 503 on any other gRPC error. Instrumented by the
reference's Flask instrumentation and gRPC client interceptor. Environment:
PORT (default 5031), BOOKINGS_ADDR (default 127.0.0.1:5032), FILIBUSTER_URL
(default http://127.0.0.1:5005).
"""
import os

import grpc
from flask import Flask, jsonify
from filibuster.instrumentation.flask import FlaskInstrumentor
from filibuster.instrumentation.grpc import GrpcInstrumentorClient

import cinema_pb2
import cinema_pb2_grpc

filibuster_url = os.environ.get("FILIBUSTER_URL", "http://127.0.0.1:5005")
app = Flask(__name__)
FlaskInstrumentor().instrument_app(app, service_name="users", filibuster_url=filibuster_url)
GrpcInstrumentorClient().instrument(service_name="users", filibuster_url=filibuster_url)
bookings = cinema_pb2_grpc.BookingsStub(grpc.insecure_channel(os.environ.get("BOOKINGS_ADDR", "127.0.0.1:5032")))


@app.route("/users/<user>/bookings")
def users_bookings(user):
    try:
        reply = bookings.GetBookings(cinema_pb2.BookingsRequest(user=user), timeout=5)
    except grpc.RpcError as err:
        status = 404 if err.code() == grpc.StatusCode.NOT_FOUND else 503
        return jsonify(error=str(err.code())), status
    return jsonify(user=reply.user, movies=list(reply.movies))


if __name__ == "__main__":
    app.run(host="127.0.0.1", port=int(os.environ.get("PORT", "5031")), threaded=True)
