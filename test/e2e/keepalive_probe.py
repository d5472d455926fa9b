#!/usr/bin/env python3
"""Kept-alive HTTPS connections across a revocation (security_test.sh).

For each --as NAME:CERT:KEY it opens one connection, sends GET
/api/v1/health on it and prints "before NAME <status>". Then it waits until
--go-file exists (the test creates it right after revoking), waits
--deadline seconds more and sends one request per route on the SAME
connection (no reconnect), printing "after NAME <route> <result>", where
result is the HTTP status or "closed" (the server ended the connection or
TLS failed). Usage:
  keepalive_probe.py --port P --ca CA --as NAME:CERT:KEY... --go-file F
                     --message-id ID [--deadline 5]
"""
import argparse
import http.client
import json
import os
import ssl
import sys
import time
import uuid

parser = argparse.ArgumentParser()
parser.add_argument("--port", type=int, required=True)
parser.add_argument("--ca", required=True)
parser.add_argument("--as", dest="who", action="append", required=True)
parser.add_argument("--go-file", required=True)
parser.add_argument("--message-id", required=True)
parser.add_argument("--deadline", type=float, default=5.0)
args = parser.parse_args()


def out(line):
    print(line, flush=True)


def routes():
    now = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())
    delivery = json.dumps({
        "message_id": str(uuid.uuid4()), "sender_number": "+4915112345678",
        "message_body": "after revocation", "created_at": now, "attempt": 1})
    message = json.dumps({"sender_number": "+4915112345678",
                          "message_body": "after revocation"})
    json_type = {"Content-Type": "application/json"}
    return [
        ("GET", "/api/v1/health", None, {}),
        ("POST", "/api/v1/messages", message, json_type),
        ("GET", "/api/v1/messages/" + args.message_id, None, {}),
        ("POST", "/internal/v1/deliver", delivery, json_type),
    ]


def ask(conn, method, path, body, headers):
    try:
        conn.request(method, path, body=body, headers=headers)
        resp = conn.getresponse()
        resp.read()
        return str(resp.status)
    except (OSError, http.client.HTTPException) as e:
        return "closed(%s)" % type(e).__name__


conns = {}
for who in args.who:
    name, cert, key = who.split(":")
    ctx = ssl.create_default_context(cafile=args.ca)
    ctx.load_cert_chain(cert, key)
    conn = http.client.HTTPSConnection("localhost", args.port, context=ctx,
                                       timeout=10)
    out("before %s %s" % (name, ask(conn, "GET", "/api/v1/health", None, {})))
    conn.auto_open = 0  # never reconnect: the same connection or nothing
    conns[name] = conn

waited = 0.0
while not os.path.exists(args.go_file):
    time.sleep(0.05)
    waited += 0.05
    if waited > 120:
        out("no go file")
        sys.exit(1)
time.sleep(args.deadline)
for name, conn in conns.items():
    for method, path, body, headers in routes():
        out("after %s %s_%s %s" % (name, method, path,
                                   ask(conn, method, path, body, headers)))
