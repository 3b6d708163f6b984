"""A real SMTP server for the e-mail channel tests (Debian's python3-aiosmtpd).

Usage: python3 smtp_server.py OUT_DIR
Listens on 127.0.0.1 on a free port and prints "READY <port>" on stdout once it accepts connections.
Every accepted message is written to OUT_DIR as <n>.eml (the bytes received after DATA) with <n>.json beside it
({"mail_from", "rcpt_tos"}); every EHLO/HELO appends a line to OUT_DIR/connections.log (one per SMTP session).
Faults per recipient are read from OUT_DIR/rules.json on each RCPT TO: {"addr@x": "550" | "451" | "drop" | "hang"};
"data-drop" / "data-hang" store the message after DATA, then close the connection / never answer (the client cannot
know whether the message was accepted).
Stops when stdin closes (the test process ended) or on SIGTERM.
"""
import asyncio
import json
import os
import socket
import sys
import threading

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP

OUT = sys.argv[1]
_lock = threading.Lock()
_count = 0


def rules():
    try:
        with open(os.path.join(OUT, "rules.json"), encoding="utf-8") as f:
            return json.load(f)
    except FileNotFoundError:
        return {}


class Handler:
    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        with _lock, open(os.path.join(OUT, "connections.log"), "a", encoding="utf-8") as f:
            f.write(hostname + "\n")
        session.host_name = hostname
        return responses

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        rule = rules().get(address)
        if rule == "550":
            return "550 5.1.1 <%s>: Recipient address rejected: User unknown" % address
        if rule == "451":
            return "451 4.3.0 <%s>: Temporary failure, try again later" % address
        if rule == "drop":
            server.transport.abort()
            return "421 4.4.2 dropped"
        if rule == "hang":
            await asyncio.sleep(120)
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server, session, envelope):
        global _count
        with _lock:
            _count += 1
            n = _count
        base = os.path.join(OUT, "%06d" % n)
        with open(base + ".eml.tmp", "wb") as f:
            f.write(envelope.original_content or envelope.content)
        with open(base + ".json.tmp", "w", encoding="utf-8") as f:
            json.dump({"mail_from": envelope.mail_from, "rcpt_tos": envelope.rcpt_tos}, f)
        os.replace(base + ".json.tmp", base + ".json")
        os.replace(base + ".eml.tmp", base + ".eml")
        faults = rules()
        fault = next((faults[r] for r in envelope.rcpt_tos if faults.get(r) in ("data-drop", "data-hang")), None)
        if fault == "data-drop":
            server.transport.abort()
            return "421 4.4.2 dropped"
        if fault == "data-hang":
            await asyncio.sleep(120)
        return "250 2.0.0 Ok: queued as Q%06d" % n


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main():
    controller = None
    for _ in range(20):
        try:
            controller = Controller(Handler(), hostname="127.0.0.1", port=free_port(), decode_data=False,
                                    data_size_limit=10 * 1024 * 1024, ready_timeout=10)
            controller.start()
            break
        except Exception:  # port taken in between: try another
            controller = None
    if controller is None:
        print("FAILED no port", flush=True)
        sys.exit(1)
    print("READY %d" % controller.port, flush=True)
    try:
        sys.stdin.read()  # returns when the parent closes our stdin or dies
    finally:
        controller.stop()


if __name__ == "__main__":
    main()
