"""App-like traffic run inside the namespaces: bulk up/downloads and a long-lived TLS chat.

Server: `python -m tcpscope.lab.traffic server SPEC.json` (prints READY when listening).
Client: `python -m tcpscope.lab.traffic client SPEC.json`: runs its `pre` tasks (e.g. the TLS
handshake of the chat), prints READY, waits for a GO line on stdin, runs `main` tasks concurrently,
prints DONE. Bulk protocol: header line `UP n` / `DOWN n`, or, when the task names a `host`, a
minimal HTTP/1.1 exchange (`POST /up/n` with a body of n bytes / `GET /down/n`, `Host: host`;
`200 OK` with `Content-Length`) so that captures carry an HTTP Host and request line; chat lines
`MSG id text`, `PULL k size gap_ms`, `BYE`. A `chat_connect` task may set the TLS SNI (`sni`).
"""

from __future__ import annotations

import json
import random
import re
import socket
import ssl
import sys
import threading
import time
from typing import Any

CHUNK = 16384
_HTTP_REQUEST = re.compile(r"^(GET|POST) /(up|down)/([0-9]+) HTTP/1\.[01]$")


def _serve_bulk(conn: socket.socket) -> None:
    """Serve one bulk connection: UP n (read n, reply OK) or DOWN n (send n pseudo-random bytes),
    or the same as HTTP/1.1 (POST /up/n, GET /down/n)."""
    with conn:
        f = conn.makefile("rb")
        line = f.readline().decode(errors="replace").strip()
        http = _HTTP_REQUEST.match(line)
        if http:
            while f.readline().strip():  # request headers up to the blank line
                pass
            head = ["UP" if http.group(2) == "up" else "DOWN", http.group(3)]
        else:
            head = line.split()
        if not head:
            return
        n = int(head[1])
        if http and head[0] == "DOWN":
            conn.sendall(f"HTTP/1.1 200 OK\r\nContent-Length: {n}\r\nConnection: close\r\n\r\n".encode())
        if head[0] == "UP":
            got = 0
            while got < n:
                b = f.read1(min(CHUNK, n - got))
                if not b:
                    return
                got += len(b)
            if http:
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: close\r\n\r\nOK\n")
            else:
                conn.sendall(b"OK\n")
        elif head[0] == "DOWN":
            rng = random.Random(n)
            left = n
            while left > 0:
                k = min(CHUNK, left)
                conn.sendall(rng.randbytes(k))
                left -= k
        conn.shutdown(socket.SHUT_WR)
        while conn.recv(4096):
            pass


def _serve_chat(conn: ssl.SSLSocket) -> None:
    """Serve one TLS chat connection: acknowledge messages, push k messages on PULL."""
    with conn:
        f = conn.makefile("rwb", buffering=0)
        seq = 0
        while True:
            line = f.readline()
            if not line:
                return
            parts = line.decode().split(" ", 3)
            if parts[0] == "MSG":
                conn.sendall(f"ACK {parts[1]}\n".encode())
            elif parts[0] == "PULL":
                k, size, gap = int(parts[1]), int(parts[2]), float(parts[3])
                for i in range(k):
                    seq += 1
                    conn.sendall(f"MSG s{seq} {'x' * size}\n".encode())
                    if i + 1 < k:
                        time.sleep(gap / 1000)
            elif parts[0].strip() == "BYE":
                conn.sendall(b"BYE\n")
                return


def _listen(ip: str, port: int) -> socket.socket:
    """Listening TCP socket on ip:port."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((ip, port))
    s.listen(64)
    return s


def server(spec: dict[str, Any]) -> None:
    """Listen on every spec['bulk'] and spec['chat'] address; serve connections in threads forever."""
    ctx = None
    if spec.get("chat"):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(spec["cert"], spec["key"])
    socks: list[tuple[socket.socket, str]] = []
    for ip, port in spec.get("bulk", []):
        socks.append((_listen(ip, port), "bulk"))
    for ip, port in spec.get("chat", []):
        socks.append((_listen(ip, port), "chat"))

    def accept_loop(s: socket.socket, kind: str) -> None:
        while True:
            conn, _ = s.accept()
            if kind == "chat":
                assert ctx is not None

                def tls(c: socket.socket = conn) -> None:
                    try:
                        _serve_chat(ctx.wrap_socket(c, server_side=True))
                    except (OSError, ssl.SSLError) as e:
                        print(f"chat: {e}", file=sys.stderr)

                threading.Thread(target=tls, daemon=True).start()
            else:
                threading.Thread(target=_serve_bulk, args=(conn,), daemon=True).start()

    for s, kind in socks:
        threading.Thread(target=accept_loop, args=(s, kind), daemon=True).start()
    print("READY", flush=True)
    while True:
        time.sleep(3600)


class Chat:
    """Client end of the TLS chat (connected and handshaken in the `pre` phase)."""

    def __init__(self, server_ip: str, port: int, cert: str, sni: str = "tcpscope-lab") -> None:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.load_verify_locations(cert)
        ctx.check_hostname = False
        raw = socket.create_connection((server_ip, port), timeout=30)
        self.sock = ctx.wrap_socket(raw, server_hostname=sni)
        self.f = self.sock.makefile("rwb", buffering=0)
        self.n = 0

    def run(self, script: list[list[Any]]) -> None:
        """Play a script of ['send', size], ['sleep', ms], ['pull', k, size, gap_ms], ['bye']."""
        for step in script:
            op = step[0]
            if op == "send":
                self.n += 1
                self.sock.sendall(f"MSG c{self.n} {'y' * int(step[1])}\n".encode())
                line = self.f.readline()
                if not line.startswith(b"ACK"):
                    raise RuntimeError(f"chat: unexpected {line[:40]!r}")
            elif op == "sleep":
                time.sleep(float(step[1]) / 1000)
            elif op == "pull":
                self.sock.sendall(f"PULL {step[1]} {step[2]} {step[3]}\n".encode())
                for _ in range(int(step[1])):
                    if not self.f.readline():
                        raise RuntimeError("chat: closed during pull")
            elif op == "bye":
                self.sock.sendall(b"BYE\n")
                self.f.readline()
                self.sock.close()


def bulk(task: dict[str, Any]) -> None:
    """One bulk connection: upload or download `size` bytes; optional receive pause (zero window)."""
    time.sleep(task.get("start_ms", 0) / 1000)
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if task.get("rcvbuf"):
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, int(task["rcvbuf"]))
    s.settimeout(60)
    s.connect((task["server"], int(task["port"])))
    size = int(task["size"])
    host = task.get("host")
    with s:
        if task["kind"] == "upload":
            if host:
                s.sendall(
                    f"POST /up/{size} HTTP/1.1\r\nHost: {host}\r\nContent-Length: {size}\r\n"
                    "Content-Type: application/octet-stream\r\n\r\n".encode()
                )
            else:
                s.sendall(f"UP {size}\n".encode())
            rng = random.Random(size)
            left = size
            while left > 0:
                k = min(CHUNK, left)
                s.sendall(rng.randbytes(k))
                left -= k
            f = s.makefile("rb")
            if host:
                if not f.readline().startswith(b"HTTP/1.1 200"):
                    raise RuntimeError("upload not acknowledged")
                while f.readline().strip():
                    pass
            if f.readline() != b"OK\n":
                raise RuntimeError("upload not acknowledged")
        else:
            header = b""
            if host:
                s.sendall(f"GET /down/{size} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
                while b"\r\n\r\n" not in header:  # the response header; the rest is body
                    b = s.recv(CHUNK)
                    if not b:
                        raise RuntimeError("download: no response")
                    header += b
                if not header.startswith(b"HTTP/1.1 200"):
                    raise RuntimeError(f"download: {header[:40]!r}")
                header = header.split(b"\r\n\r\n", 1)[1]
            else:
                s.sendall(f"DOWN {size}\n".encode())
            got, paused = len(header), False
            pause_after = int(task.get("pause_after", -1))
            while True:
                if not paused and pause_after >= 0 and got >= pause_after:
                    paused = True
                    time.sleep(task.get("pause_ms", 0) / 1000)
                b = s.recv(CHUNK)
                if not b:
                    break
                got += len(b)
            if got != size:
                raise RuntimeError(f"download got {got} of {size}")
        s.shutdown(socket.SHUT_WR)


def client(spec: dict[str, Any]) -> None:
    """Run pre tasks, READY, wait for GO, run main tasks in threads, DONE."""
    chats: dict[str, Chat] = {}
    for t in spec.get("pre", []):
        if t["kind"] == "chat_connect":
            chats[t["name"]] = Chat(t["server"], int(t["port"]), spec["cert"], t.get("sni", "tcpscope-lab"))
    print("READY", flush=True)
    if sys.stdin.readline().strip() != "GO":
        return
    errors: list[BaseException] = []

    def wrap(fn: Any, *a: Any) -> None:
        try:
            fn(*a)
        except BaseException as e:  # reported after join
            errors.append(e)

    threads = []
    for t in spec.get("main", []):
        if t["kind"] == "chat":
            def play(t: dict[str, Any] = t) -> None:
                time.sleep(t.get("start_ms", 0) / 1000)
                chats[t["name"]].run(t["script"])
            th = threading.Thread(target=wrap, args=(play,))
        else:
            th = threading.Thread(target=wrap, args=(bulk, t))
        th.start()
        threads.append(th)
    for th in threads:
        th.join()
    if errors:
        raise errors[0]
    print("DONE", flush=True)


def main(argv: list[str]) -> int:
    """CLI: `server SPEC.json` or `client SPEC.json`."""
    spec = json.loads(open(argv[1]).read())
    if argv[0] == "server":
        server(spec)
    else:
        client(spec)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
