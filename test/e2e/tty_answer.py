#!/usr/bin/env python3
"""Runs a command on a new pseudo-terminal and answers its prompts the way a
person would: each answer from $TTY_ANSWERS (newline-separated) is typed
once the next PROMPT appears, never before. Prints everything the terminal
showed and exits with the command's exit code.
Usage: TTY_ANSWERS=... tty_answer.py PROMPT[,PROMPT...] COMMAND [ARGS...]"""
import os
import pty
import sys

prompts = [p.encode() for p in sys.argv[1].split(",")]
answers = os.environ["TTY_ANSWERS"].split("\n")
pid, fd = pty.fork()
if pid == 0:
    os.execv(sys.argv[2], sys.argv[2:])

shown = b""


def read_more():
    global shown
    try:
        chunk = os.read(fd, 1024)
    except OSError:  # EIO: the command closed the terminal
        chunk = b""
    shown += chunk
    return bool(chunk)


for prompt, answer in zip(prompts, answers):
    while prompt not in shown.split(b"\n")[-1]:
        if not read_more():
            break
    else:
        os.write(fd, answer.encode() + b"\n")
        # The next prompt must come after this answer.
        shown += b"\n"
        continue
    break
while read_more():
    pass
_, status = os.waitpid(pid, 0)
sys.stdout.write(shown.decode(errors="replace"))
sys.exit(os.waitstatus_to_exitcode(status))
