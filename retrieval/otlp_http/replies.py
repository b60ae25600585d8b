"""The bodies the OTLP/HTTP specification prescribes, in the encoding of the request.

Success: an ExportTraceServiceResponse / ExportLogsServiceResponse, with `partial_success` (the rejected count
and a message) when some records were refused. Failure (4xx, 5xx): a google.rpc.Status naming the problem.
"""

from __future__ import annotations

from google.protobuf.json_format import MessageToJson
from google.rpc.status_pb2 import Status
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceResponse
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse

from retrieval.otlp_http.payload import PROTOBUF, TRACES, Signal

# HTTP status -> the gRPC code a Status carries (google.rpc.Code)
_GRPC_CODE = {400: 3, 401: 16, 404: 5, 405: 12, 411: 3, 413: 8, 415: 3, 503: 14}


def success(signal: Signal, rejected: int, message: str, media: str) -> bytes:
    """200's body: empty partial_success when all was accepted."""
    if signal == TRACES:
        reply: ExportTraceServiceResponse | ExportLogsServiceResponse = ExportTraceServiceResponse()
        if rejected or message:
            reply.partial_success.rejected_spans = rejected
            reply.partial_success.error_message = message
    else:
        reply = ExportLogsServiceResponse()
        if rejected or message:
            reply.partial_success.rejected_log_records = rejected
            reply.partial_success.error_message = message
    return _encode(reply, media)


def failure(status: int, message: str, media: str) -> bytes:
    """A 4xx/5xx body: google.rpc.Status with the message."""
    return _encode(Status(code=_GRPC_CODE.get(status, 2), message=message), media)


def _encode(message: ExportTraceServiceResponse | ExportLogsServiceResponse | Status, media: str) -> bytes:
    if media == PROTOBUF:
        return message.SerializeToString()
    return MessageToJson(message, indent=None).encode("utf-8")
