#!/usr/bin/env python3
"""faultproxy.py — a fault-injecting HTTP/1.1 proxy for the S3 tests (loopback only).

Sits between the client and an S3 server (moto) and, request by request, either passes the exchange
through or injects a fault. Usage:

    faultproxy.py --upstream 127.0.0.1:PORT [--schedule LIST] [--random P --seed N --max-faults K]
                  [--slow-seconds S] [--only METHODS] [--path-contains STR] [--stats FILE]

It listens on a free 127.0.0.1 port and prints "PORT <n>" on stdout once ready. The client sends
requests to it as if it were the server (path-style; the Host header is passed through unchanged,
so SigV4 signatures stay valid).

Faults (--schedule is a comma-separated list applied to the 1st, 2nd, ... request that --only
selects (--only METHODS and --path-contains STR narrow the selection); requests after the list
are passed through; --random P instead injects a fault chosen at
random with probability P, at most K in all):
    ok           pass through
    503          answer 503 SlowDown without forwarding
    500          answer 500 InternalError without forwarding
    429          answer 429 TooManyRequests without forwarding
    reset        close the client connection with a TCP RST without forwarding
    reset-after  forward the request (the server acts on it), then RST instead of the answer
    slow         forward, then hold the answer for --slow-seconds before sending it
    truncate     forward, then send the headers and only part of the body, and close
The proxy answers "100 Continue" itself to requests that expect it, reads whole requests, opens one
upstream connection per request, and never retries anything. Every injected fault is counted in
the --stats file (rewritten as "kind count" lines after each request), so tests can check that the
faults really happened.
"""
import argparse
import asyncio
import os
import random
import socket
import struct
import sys

KINDS = ["503", "500", "429", "reset", "reset-after", "slow", "truncate"]
MAX_BODY = 256 << 20


class Proxy:
    def __init__(self, args):
        self.upstream_host, port = args.upstream.rsplit(":", 1)
        self.upstream_port = int(port)
        self.schedule = [s.strip() for s in args.schedule.split(",") if s.strip()] if args.schedule else []
        for s in self.schedule:
            if s != "ok" and s not in KINDS:
                raise SystemExit("faultproxy: unknown fault %r" % s)
        self.only = set(m.strip().upper() for m in args.only.split(",")) if args.only else None
        self.path_contains = args.path_contains or None
        self.rng = random.Random(args.seed)
        self.p = args.random
        self.max_faults = args.max_faults
        self.slow = args.slow_seconds
        self.stats_path = args.stats
        self.n = 0
        self.faults = 0
        self.stats = {k: 0 for k in KINDS + ["ok", "requests"]}

    def pick(self, method, path=""):
        self.stats["requests"] += 1
        if self.only is not None and method not in self.only:
            return "ok"
        if self.path_contains is not None and self.path_contains not in path:
            return "ok"
        i = self.n
        self.n += 1
        if self.p > 0:
            if self.faults < self.max_faults and self.rng.random() < self.p:
                self.faults += 1
                return self.rng.choice(KINDS)
            return "ok"
        return self.schedule[i] if i < len(self.schedule) else "ok"

    def record(self, kind):
        self.stats[kind] = self.stats.get(kind, 0) + 1
        if self.stats_path:
            with open(self.stats_path + ".tmp", "w") as f:
                for k in sorted(self.stats):
                    f.write("%s %d\n" % (k, self.stats[k]))
            os.replace(self.stats_path + ".tmp", self.stats_path)


async def read_head(reader):
    """Header block up to and including the blank line, or None at EOF."""
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError:
        return None
    except asyncio.LimitOverrunError:
        return None
    return head


def header_value(head, name):
    for line in head.split(b"\r\n")[1:]:
        k, _, v = line.partition(b":")
        if k.strip().lower() == name:
            return v.strip()
    return None


def without_headers(head, names):
    lines = head.rstrip(b"\r\n").split(b"\r\n")
    kept = [lines[0]] + [l for l in lines[1:] if l.partition(b":")[0].strip().lower() not in names]
    return b"\r\n".join(kept) + b"\r\n"


def rst_close(writer):
    sock = writer.get_extra_info("socket")
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass
    writer.transport.abort()


def error_response(status, code, reason):
    body = ("<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>%s</Code><Message>injected by "
            "faultproxy</Message></Error>" % code).encode()
    return (b"HTTP/1.1 %d %s\r\nContent-Type: application/xml\r\nContent-Length: %d\r\n\r\n"
            % (status, reason.encode(), len(body))) + body


async def forward(proxy, head, body):
    """Sends one request upstream (Connection: close) and returns the raw response bytes."""
    r, w = await asyncio.open_connection(proxy.upstream_host, proxy.upstream_port)
    try:
        req = without_headers(head, {b"connection", b"expect", b"keep-alive"}) + b"Connection: close\r\n\r\n"
        w.write(req + body)
        await w.drain()
        return await r.read()
    finally:
        w.close()


def split_response(resp):
    """(head, body) of a raw response (read until the server closed)."""
    i = resp.find(b"\r\n\r\n")
    if i < 0:
        return resp, b""
    return resp[: i + 4], resp[i + 4:]


async def handle(proxy, reader, writer):
    try:
        while True:
            head = await read_head(reader)
            if head is None:
                break
            request_line = head.split(b"\r\n", 1)[0].decode("latin-1")
            method = request_line.split(" ", 1)[0].upper()
            path = request_line.split(" ")[1] if " " in request_line else ""
            length = int(header_value(head, b"content-length") or b"0")
            if length > MAX_BODY:
                rst_close(writer)
                return
            expect = (header_value(head, b"expect") or b"").lower() == b"100-continue"
            kind = proxy.pick(method, path)
            if kind in ("503", "500", "429", "reset"):
                # Fail before the request body is wanted; the client may still be sending it.
                proxy.record(kind)
                if kind == "reset":
                    rst_close(writer)
                    return
                status, code, reason = {"503": (503, "SlowDown", "Slow Down"),
                                        "500": (500, "InternalError", "Internal Server Error"),
                                        "429": (429, "TooManyRequests", "Too Many Requests")}[kind]
                writer.write(error_response(status, code, reason).replace(
                    b"\r\n\r\n", b"\r\nConnection: close\r\n\r\n", 1))
                await writer.drain()
                writer.close()
                return
            if expect:
                writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
                await writer.drain()
            body = await reader.readexactly(length) if length else b""
            resp = await forward(proxy, head, body)
            proxy.record(kind)
            if kind == "reset-after":
                rst_close(writer)
                return
            if kind == "slow":
                await asyncio.sleep(proxy.slow)
            rhead, rbody = split_response(resp)
            if kind == "truncate" and len(rbody) >= 2:
                writer.write(rhead + rbody[: len(rbody) // 2])
                await writer.drain()
                rst_close(writer)
                return
            if kind == "truncate":  # nothing to cut: drop the answer instead
                rst_close(writer)
                return
            writer.write(resp)
            await writer.drain()
            # One exchange per client connection: the upstream answer may be framed by the close we
            # asked for, so the client must see a close too.
            writer.close()
            return
    except (ConnectionError, asyncio.IncompleteReadError, OSError):
        try:
            writer.transport.abort()
        except Exception:
            pass


async def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--upstream", required=True)
    ap.add_argument("--schedule", default="")
    ap.add_argument("--random", type=float, default=0.0)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--max-faults", type=int, default=1000)
    ap.add_argument("--slow-seconds", type=float, default=5.0)
    ap.add_argument("--only", default="")
    ap.add_argument("--path-contains", default="", help="select only requests whose path contains this")
    ap.add_argument("--stats", default="")
    ap.add_argument("--lifetime", type=float, default=600.0, help="exit after this many seconds")
    args = ap.parse_args()
    proxy = Proxy(args)
    server = await asyncio.start_server(lambda r, w: handle(proxy, r, w), "127.0.0.1", 0, limit=1 << 20)
    port = server.sockets[0].getsockname()[1]
    print("PORT %d" % port, flush=True)
    async with server:
        try:
            await asyncio.wait_for(server.serve_forever(), timeout=args.lifetime)
        except asyncio.TimeoutError:
            pass


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        sys.exit(0)
