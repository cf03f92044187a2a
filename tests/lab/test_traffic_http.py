"""The lab's bulk protocol in its HTTP form (a task with `host`) and the plain form, over
loopback: the server understands both, the client checks sizes."""

from __future__ import annotations

import socket
import threading

import pytest

from tcpscope.lab import traffic


@pytest.fixture()
def server() -> tuple[str, int]:
    lst = socket.socket()
    lst.bind(("127.0.0.1", 0))
    lst.listen(8)
    port = lst.getsockname()[1]

    def loop() -> None:
        while True:
            try:
                conn, _ = lst.accept()
            except OSError:
                return
            threading.Thread(target=traffic._serve_bulk, args=(conn,), daemon=True).start()

    threading.Thread(target=loop, daemon=True).start()
    yield "127.0.0.1", port
    lst.close()


@pytest.mark.parametrize("host", [None, "media.lab.example"])
@pytest.mark.parametrize("kind", ["upload", "download"])
def test_bulk_both_forms(server: tuple[str, int], kind: str, host: str | None) -> None:
    ip, port = server
    task = {"kind": kind, "server": ip, "port": port, "size": 70_000}
    if host:
        task["host"] = host
    traffic.bulk(task)  # raises on a short transfer or a bad reply
