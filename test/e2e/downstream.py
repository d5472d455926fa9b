#!/usr/bin/env python3
"""A test downstream for Herald's delivery: HTTPS with client certificates.

Answers POST /internal/v1/deliver by the message body:
  - contains "permanent": 400 every time (a permanent failure)
  - contains "flaky": 503 for the first --fail-first attempts, then 200
  - contains "echo422": 422 with a FastAPI-style error body that echoes the
    request (sender number and message body included)
  - contains "straddle4xx" / "straddle5xx": 422 / 503 with a text error body
    whose bytes 199..201 are one UTF-8 character (cut at 200 bytes it is
    invalid UTF-8)
  - anything else: 200
Appends one line "<message_id> <attempt> <status>" per request to --log.
With --delay-ms, every answer waits that long first (a slow downstream, for
benchmarks). Stops on SIGTERM. Usage:
  downstream.py --port P --cert C --key K --ca CA --log FILE [--fail-first N]
                [--delay-ms MS]
"""
import argparse
import http.server
import json
import ssl
import threading
import time

parser = argparse.ArgumentParser()
parser.add_argument("--port", type=int, required=True)
parser.add_argument("--cert", required=True)
parser.add_argument("--key", required=True)
parser.add_argument("--ca", required=True)
parser.add_argument("--log", required=True)
parser.add_argument("--fail-first", type=int, default=2)
parser.add_argument("--delay-ms", type=float, default=0)
args = parser.parse_args()

lock = threading.Lock()
attempts = {}


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0"))
        msg = json.loads(self.rfile.read(length))
        mid = msg["message_id"]
        with lock:
            attempts[mid] = attempts.get(mid, 0) + 1
            seen = attempts[mid]
        body = msg["message_body"]
        error_body = None
        if "echo422" in body:
            status = 422
            error_body = json.dumps({"detail": [{
                "input": msg, "type": "value_error", "loc": ["body"],
                "msg": "Value error, rejected by the test downstream"}]})
            error_body = error_body.encode()
        elif "straddle4xx" in body or "straddle5xx" in body:
            status = 422 if "straddle4xx" in body else 503
            error_body = b"x" * 199 + "\u20ac".encode() + b" and more after it"
        elif "permanent" in body:
            status = 400
        elif "flaky" in body and seen <= args.fail_first:
            status = 503
        else:
            status = 200
        if self.headers.get("Idempotency-Key") != mid:
            status = 400
        with lock, open(args.log, "a") as log:
            log.write(f"{mid} {msg['attempt']} {status}\n")
        payload = error_body if error_body is not None else b'{"ok":true}'
        if args.delay_ms > 0:
            time.sleep(args.delay_ms / 1000)
        self.send_response(status)
        self.send_header("Content-Type", "application/json"
                         if "straddle" not in body
                         else "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *_):
        pass


context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
context.minimum_version = ssl.TLSVersion.TLSv1_2
context.load_cert_chain(args.cert, args.key)
context.load_verify_locations(args.ca)
context.verify_mode = ssl.CERT_REQUIRED
# A real server's listen backlog: Herald opens its connection pool at once.
http.server.ThreadingHTTPServer.request_queue_size = 128
server = http.server.ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
server.socket = context.wrap_socket(server.socket, server_side=True)
server.serve_forever()
