#!/usr/bin/env python3
"""Opens COUNT idle TCP connections (no TLS handshake) to PORT and watches
when the server closes them (security_test.sh).

Prints "opened N" once all are connected (the test then tries a valid
client), then waits up to WATCH seconds and prints
"closed C of N; last close after S s; first close after F s".
The sockets come from SOURCE (default 127.0.0.2, any loopback address
works on Linux): a stranger's address, not the valid client's 127.0.0.1.
Usage: idle_sockets.py PORT COUNT WATCH [SOURCE]
"""
import resource
import select
import socket
import sys
import time

port, count, watch = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
source = sys.argv[4] if len(sys.argv) > 4 else "127.0.0.2"
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
want = count + 64
if soft < want:
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(want, hard), hard))

socks = []
started = time.monotonic()
for _ in range(count):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(5)
    s.bind((source, 0))
    try:
        s.connect(("127.0.0.1", port))
    except OSError as e:
        print("connect failed after %d: %s" % (len(socks), e), flush=True)
        s.close()
        break
    s.setblocking(False)
    socks.append(s)
print("opened %d" % len(socks), flush=True)

open_socks = {s.fileno(): s for s in socks}
closed_at = []
poller = select.poll()
for fd in open_socks:
    poller.register(fd, select.POLLIN | select.POLLHUP | select.POLLERR)
deadline = started + watch
while open_socks and time.monotonic() < deadline:
    timeout_ms = max(0, int((deadline - time.monotonic()) * 1000))
    for fd, _ in poller.poll(timeout_ms):
        s = open_socks.get(fd)
        if s is None:
            continue
        try:
            data = s.recv(4096)
        except BlockingIOError:
            continue
        except OSError:
            data = b""
        if data:
            continue  # the server wrote something: still open
        closed_at.append(time.monotonic() - started)
        poller.unregister(fd)
        del open_socks[fd]
        s.close()
print("closed %d of %d; last close after %.1f s; first close after %.1f s"
      % (len(closed_at), len(socks), max(closed_at, default=-1),
         min(closed_at, default=-1)), flush=True)
for s in open_socks.values():
    s.close()
