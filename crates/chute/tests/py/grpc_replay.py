"""Replays captured OTLP/gRPC messages (raw protobuf bytes) to a gRPC endpoint, unchanged.

usage: grpc_replay.py HOST:PORT METHOD FILE...   (METHOD like /opentelemetry.proto.collector.logs.v1.LogsService/Export)
Prints one line per request: OK <response length> or ERROR <grpc code> <details>.
"""
import sys
import grpc

target, method, files = sys.argv[1], sys.argv[2], sys.argv[3:]
channel = grpc.insecure_channel(target)
call = channel.unary_unary(method, request_serializer=None, response_deserializer=None)
for f in files:
    body = open(f, "rb").read()
    try:
        resp = call(body, timeout=10)
        print("OK", len(resp))
    except grpc.RpcError as e:
        print("ERROR", e.code().name, e.details())
