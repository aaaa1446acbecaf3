#!/usr/bin/env python3
"""Floods a tidings listener the way an attacker would: CONNECTIONS sessions at once, each
naming one address RCPTS times and sending a message of SIZE bytes, over raw sockets on
loopback. Prints how each session was answered and how long the flood took; the memory and
database growth are measured by scripts/inbound-flood.sh around it.

Usage: inbound-flood.py HOST PORT RECIPIENT [CONNECTIONS [RCPTS [SIZE]]]
Every wait is bounded (a minute per reply), so the script always ends."""

import asyncio
import collections
import sys
import time

REPLY_TIMEOUT = 60


async def reply(reader):
    """One SMTP reply (possibly multi-line); its first line."""
    first = None
    while True:
        line = await asyncio.wait_for(reader.readline(), REPLY_TIMEOUT)
        if not line:
            return first or b"(closed)"
        first = first or line
        if line[3:4] != b"-":
            return first


async def session(host, port, recipient, rcpts, message):
    reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), REPLY_TIMEOUT)
    try:
        greeting = await reply(reader)
        if not greeting.startswith(b"220"):
            return "greeting " + greeting[:3].decode()
        writer.write(b"EHLO flood.example\r\nMAIL FROM:<flood@flood.example>\r\n")
        writer.write(f"RCPT TO:<{recipient}>\r\n".encode() * rcpts)
        writer.write(b"DATA\r\n")
        await writer.drain()
        answers = [await reply(reader) for _ in range(2 + rcpts + 1)]
        if not answers[-1].startswith(b"354"):
            return "DATA " + answers[-1][:3].decode()
        view = memoryview(message)
        for at in range(0, len(message), 1 << 20):
            # A megabyte at a time: 200 sessions' worth of unsent bytes would be 2 GB here.
            writer.write(view[at : at + (1 << 20)])
            await asyncio.wait_for(writer.drain(), REPLY_TIMEOUT)
        writer.write(b".\r\nQUIT\r\n")
        await writer.drain()
        return (await reply(reader))[:9].decode().strip()
    except (asyncio.TimeoutError, ConnectionError) as error:
        return type(error).__name__
    finally:
        writer.close()


async def main():
    host, port, recipient = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    connections = int(sys.argv[4]) if len(sys.argv) > 4 else 200
    rcpts = int(sys.argv[5]) if len(sys.argv) > 5 else 100
    size = int(sys.argv[6]) if len(sys.argv) > 6 else 10_000_000
    line = b"x" * 76 + b"\r\n"
    header = f"From: <flood@flood.example>\r\nTo: <{recipient}>\r\nSubject: flood\r\n\r\n".encode()
    message = header + line * ((size - len(header)) // len(line))
    start = time.monotonic()
    results = await asyncio.gather(
        *(session(host, port, recipient, rcpts, message) for _ in range(connections))
    )
    elapsed = time.monotonic() - start
    print(f"{connections} sessions x {rcpts} RCPT x {len(message)} bytes in {elapsed:.1f} s")
    for answer, count in sorted(collections.Counter(results).items()):
        print(f"  {count:4} answered {answer}")


asyncio.run(main())
