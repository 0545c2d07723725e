"""The POST to a partner's endpoint keeps to its time limit as a whole (shared.notices_http.WebhookSender)."""

from __future__ import annotations

import socket
import threading
import time

from shared.notices_http import Resolver, WebhookSender


def read_request(conn: socket.socket) -> bytes:
    """An HTTP request as it comes, to its last body byte (Content-Length)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return data
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = next((int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")
                   if line.lower().startswith(b"content-length:")), 0)
    while len(body) < length:
        chunk = conn.recv(65536)
        if not chunk:
            break
        body += chunk
    return head + b"\r\n\r\n" + body


def dripping_server(answer: bytes, every: float) -> tuple[int, threading.Thread]:
    """An endpoint on 127.0.0.1 that answers `answer` one byte every `every` seconds (each read well within a socket
    timeout, the whole far beyond it)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)

    def serve() -> None:
        conn, _ = listener.accept()
        with conn, listener:
            read_request(conn)  # whole, so that closing after the answer resets nothing the client still sends
            for byte in answer:
                conn.sendall(bytes([byte]))
                time.sleep(every)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    return listener.getsockname()[1], thread


def test_a_2xx_dripped_past_the_time_limit_is_a_timeout_not_a_delivery():
    # Given an endpoint that answers 200, one byte every 0.1 s (each read within the limit, the answer past it)
    port, thread = dripping_server(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", 0.1)
    sender = WebhookSender(Resolver(), allow_loopback=True, timeout=1.0)
    # When a notice is sent with a 1 s limit
    answer = sender.send(f"http://127.0.0.1:{port}/hook", b"{}", {})
    thread.join(10)
    # Then it did not deliver: a late answer is a timeout
    assert (answer.delivered, answer.error) == (False, "timeout")


def test_a_2xx_within_the_time_limit_is_a_delivery():
    port, thread = dripping_server(b"HTTP/1.1 204 No Content\r\n\r\n", 0.0)
    answer = WebhookSender(Resolver(), allow_loopback=True, timeout=5.0).send(f"http://127.0.0.1:{port}/h", b"{}", {})
    thread.join(10)
    assert (answer.delivered, answer.status) == (True, 204)
