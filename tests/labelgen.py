"""Captures with real application-layer labels for the label and report tests.

`tls_records(server_hostname, alpn)` runs Python's own TLS client and server in memory
(ssl.MemoryBIO, no socket, no network) and returns the bytes each side sends, so the
ClientHello and ServerHello are real; `write_pcap` wraps payloads into complete TCP
connections (handshake, data, FIN) in a raw-IP (link type 101) pcap.
"""

from __future__ import annotations

import ssl
import struct
import subprocess
from dataclasses import dataclass
from pathlib import Path

FIN, SYN, PSH, ACK = 0x01, 0x02, 0x08, 0x10


def self_signed(tmp: Path) -> tuple[Path, Path]:
    """A throw-away EC certificate and key made with the openssl CLI."""
    cert, key = tmp / "cert.pem", tmp / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-keyout", str(key), "-out", str(cert), "-days", "2", "-subj", "/CN=lab"],
        check=True, capture_output=True, timeout=60,
    )
    return cert, key


def tls_records(
    server_hostname: str | None, alpn: list[str] | None = None, cert: tuple[Path, Path] | None = None
) -> list[tuple[bool, bytes]]:
    """(from_client, bytes) flights of a real in-memory TLS handshake. Without `cert` only the
    ClientHello is produced."""
    cctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    cctx.check_hostname = False
    cctx.verify_mode = ssl.CERT_NONE
    if alpn:
        cctx.set_alpn_protocols(alpn)
    c_in, c_out = ssl.MemoryBIO(), ssl.MemoryBIO()
    client = cctx.wrap_bio(c_in, c_out, server_hostname=server_hostname)
    flights: list[tuple[bool, bytes]] = []
    try:
        client.do_handshake()
    except ssl.SSLWantReadError:
        pass
    flights.append((True, c_out.read()))
    if cert is None:
        return flights
    sctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    sctx.load_cert_chain(str(cert[0]), str(cert[1]))
    if alpn:
        sctx.set_alpn_protocols(alpn)
    s_in, s_out = ssl.MemoryBIO(), ssl.MemoryBIO()
    server = sctx.wrap_bio(s_in, s_out, server_side=True)
    for _ in range(6):
        s_in.write(flights[-1][1])
        try:
            server.do_handshake()
        except ssl.SSLWantReadError:
            pass
        out = s_out.read()
        if out:
            flights.append((False, out))
        c_in.write(out)
        try:
            client.do_handshake()
            done = True
        except ssl.SSLWantReadError:
            done = False
        out = c_out.read()
        if out:
            flights.append((True, out))
        if done:
            break
    return flights


def _csum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def _ip4(src: str, dst: str) -> tuple[bytes, bytes]:
    return bytes(int(x) for x in src.split(".")), bytes(int(x) for x in dst.split("."))


@dataclass
class Connection:
    """One TCP connection: client and server endpoints and the payload flights in order."""

    client: str
    cport: int
    server: str
    sport: int
    flights: list[tuple[bool, bytes]]


def _packet(src: str, dst: str, sport: int, dport: int, seq: int, ack: int, flags: int,
            payload: bytes, ip_id: int) -> bytes:
    s, d = _ip4(src, dst)
    tcp = struct.pack("!HHIIBBHHH", sport, dport, seq % 2**32, ack % 2**32, 5 << 4, flags, 65535, 0, 0)
    pseudo = s + d + struct.pack("!BBH", 0, 6, len(tcp) + len(payload))
    csum = _csum(pseudo + tcp + payload)
    tcp = tcp[:16] + struct.pack("!H", csum) + tcp[18:]
    total = 20 + len(tcp) + len(payload)
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, total, ip_id, 0x4000, 64, 6, 0, s, d)
    ip = ip[:10] + struct.pack("!H", _csum(ip)) + ip[12:]
    return ip + tcp + payload


def packets(conn: Connection, mss: int = 1400) -> list[bytes]:
    """Handshake, the flights cut to `mss` with an ACK after each flight, FIN both ways."""
    c = (conn.client, conn.server, conn.cport, conn.sport)
    s = (conn.server, conn.client, conn.sport, conn.cport)
    cseq, sseq, ip_id = 1000, 5000, 1
    out: list[bytes] = []

    def put(ep: tuple, seq: int, ack: int, flags: int, payload: bytes = b"") -> None:
        nonlocal ip_id
        ip_id += 1
        out.append(_packet(ep[0], ep[1], ep[2], ep[3], seq, ack, flags, payload, ip_id))

    put(c, cseq, 0, SYN)
    put(s, sseq, cseq + 1, SYN | ACK)
    cseq, sseq = cseq + 1, sseq + 1
    put(c, cseq, sseq, ACK)
    for from_client, data in conn.flights:
        for i in range(0, len(data), mss):
            chunk = data[i : i + mss]
            if from_client:
                put(c, cseq, sseq, PSH | ACK, chunk)
                cseq += len(chunk)
            else:
                put(s, sseq, cseq, PSH | ACK, chunk)
                sseq += len(chunk)
        if from_client:
            put(s, sseq, cseq, ACK)
        else:
            put(c, cseq, sseq, ACK)
    put(c, cseq, sseq, FIN | ACK)
    put(s, sseq, cseq + 1, FIN | ACK)
    put(c, cseq + 1, sseq + 1, ACK)
    return out


def write_pcap(path: Path, conns: list[Connection], t0: float = 1_700_000_000.0) -> Path:
    """Raw-IP pcap (link type 101, microseconds) of the connections, one after the other."""
    frames = [p for conn in conns for p in packets(conn)]
    with open(path, "wb") as fh:
        fh.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 101))
        for i, pkt in enumerate(frames):
            t = t0 + i * 0.01
            sec = int(t)
            usec = int(round((t - sec) * 1e6))
            fh.write(struct.pack("<IIII", sec, usec, len(pkt), len(pkt)) + pkt)
    return path


def http_request(host: str, path: str = "/", method: str = "GET") -> bytes:
    """A plain HTTP/1.1 request."""
    return f"{method} {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: lab\r\n\r\n".encode()
