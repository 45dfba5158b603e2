"""Plain protobuf unary calls: retries, deadlines and api_core errors, against a real gRPC server."""

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import grpc
import pytest
from google.api_core import exceptions as gexc
from google.cloud.firestore_v1.types import document, firestore

from shared.adapters import rpc

Request, Document = firestore.GetDocumentRequest.pb(), document.Document.pb()


class Server:
    """A gRPC server on 127.0.0.1 whose one method answers with a script of status codes."""

    def __init__(self) -> None:
        self.script: list[grpc.StatusCode] = []
        self.delay = 0.0  # before each answer
        self.calls: list[tuple[str, float | None]] = []
        handler = grpc.unary_unary_rpc_method_handler(
            self._answer,
            request_deserializer=Request.FromString,
            response_serializer=Document.SerializeToString,
        )
        self.server = grpc.server(ThreadPoolExecutor(2))
        self.server.add_generic_rpc_handlers(
            [grpc.method_handlers_generic_handler("test.Docs", {"Get": handler})]
        )
        self.port = self.server.add_insecure_port("127.0.0.1:0")
        self.server.start()

    def _answer(self, request, context):
        self.calls.append((request.name, context.time_remaining()))
        time.sleep(self.delay)
        code = self.script.pop(0) if self.script else grpc.StatusCode.OK
        if code == grpc.StatusCode.DEADLINE_EXCEEDED:
            time.sleep(context.time_remaining() + 0.05)
        if code != grpc.StatusCode.OK:
            context.abort(code, f"scripted {code.name}")
        return Document(name=request.name)


@pytest.fixture
def server() -> Iterator[Server]:
    s = Server()
    yield s
    s.server.stop(None)


@pytest.fixture
def get(server) -> Iterator[rpc.Unary]:
    with grpc.insecure_channel(f"127.0.0.1:{server.port}") as channel:
        yield rpc.Unary(channel, "/test.Docs/Get", Request, Document, (gexc.ServiceUnavailable,))


def test_a_call_answers_with_the_generated_message(server, get):
    assert get(Request(name="a/b"), timeout=5).name == "a/b"
    assert [name for name, _ in server.calls] == ["a/b"]


def test_retryable_errors_are_retried_within_the_timeout(server, get):
    server.script = [grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.UNAVAILABLE]
    server.delay = 0.3
    assert get(Request(name="x"), timeout=2).name == "x"
    assert len(server.calls) == 3
    # each attempt is given what is left of the timeout, not the whole of it again
    assert [left for _, left in server.calls][2] < 2 - 2 * 0.3


def test_other_errors_are_raised_at_once_as_api_core_exceptions(server, get):
    server.script = [grpc.StatusCode.NOT_FOUND]
    with pytest.raises(gexc.NotFound, match="scripted NOT_FOUND"):
        get(Request(name="x"), timeout=10)
    assert len(server.calls) == 1


def test_retrying_stops_at_the_timeout(server, get):
    server.script = [grpc.StatusCode.UNAVAILABLE] * 1000
    started = time.monotonic()
    # the last attempt's answer, or (on a loaded machine) its own deadline running out
    with pytest.raises((gexc.ServiceUnavailable, gexc.DeadlineExceeded)):
        get(Request(name="x"), timeout=0.5)
    assert time.monotonic() - started < 1.5


def test_a_slow_answer_is_a_deadline_exceeded_error(server, get):
    server.script = [grpc.StatusCode.DEADLINE_EXCEEDED]
    with pytest.raises(gexc.DeadlineExceeded):
        get(Request(name="x"), timeout=0.2)
