#!/usr/bin/env python3
"""A stand-in for systemd's notification socket (sd_notify(3)).

Usage: fake_notify.py SOCKET LOG

Binds a Unix datagram socket at SOCKET (a path, or "@name" for the abstract
namespace) and appends one line per datagram to LOG:
    <seconds since the epoch> pid=<sender pid> <datagram, newlines as " | ">
The sender's pid comes from SO_PASSCRED, as systemd reads it to enforce
NotifyAccess=main. Runs until killed.
"""
import os
import socket
import struct
import sys
import time


def main():
    path, log = sys.argv[1], sys.argv[2]
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
    address = "\0" + path[1:] if path.startswith("@") else path
    if not path.startswith("@") and os.path.exists(path):
        os.unlink(path)
    sock.bind(address)
    creds_size = struct.calcsize("iII")
    with open(log, "a", buffering=1) as out:
        out.write(f"{time.time():.3f} pid=0 LISTENING\n")
        while True:
            data, ancillary, _, _ = sock.recvmsg(
                4096, socket.CMSG_SPACE(creds_size))
            pid = 0
            for level, kind, payload in ancillary:
                if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
                    pid = struct.unpack("iII", payload[:creds_size])[0]
            text = data.decode("utf-8", "replace").replace("\n", " | ")
            out.write(f"{time.time():.3f} pid={pid} {text}\n")


if __name__ == "__main__":
    main()
