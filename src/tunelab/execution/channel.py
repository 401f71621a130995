"""A message channel over a stream socket: 4-byte length + pickle, with a read buffer so one `recv`
syscall can deliver several messages. Used by the driver and the worker (one channel per worker)."""
from __future__ import annotations

import os
import pickle
import select
import socket
import struct
import time
from typing import Any

_HEADER = struct.Struct("!I")
_CHUNK = 1 << 16


class Channel:
    """Blocking send/recv of picklable messages; `buffered()` says whether a whole message is waiting."""

    def __init__(self, sock: socket.socket):
        self.sock = sock
        self._buffer = bytearray()

    def fileno(self) -> int:
        return self.sock.fileno()

    def send(self, message: Any) -> None:
        data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
        self.sock.sendall(_HEADER.pack(len(data)) + data)

    def buffered(self) -> bool:
        """True when a complete message is already in the read buffer (no syscall needed)."""
        if len(self._buffer) < 4:
            return False
        return len(self._buffer) >= 4 + _HEADER.unpack_from(self._buffer)[0]

    def recv(self, spin_s: float = 0.0) -> Any:
        """Return the next message, blocking until it is complete; EOFError when the peer is gone.

        `spin_s` > 0 first polls without sleeping for that long: a reply expected within microseconds
        then arrives without the cost of waking a sleeping process (tens of microseconds on a VM).
        """
        if spin_s and not self.buffered():
            self._spin(spin_s)
        while not self.buffered():
            self._fill()
        (size,) = _HEADER.unpack_from(self._buffer)
        message = pickle.loads(memoryview(self._buffer)[4:4 + size])
        del self._buffer[:4 + size]
        return message

    def wait(self, timeout: float, spin_s: float = 0.0) -> bool:
        """Whether a whole message is in the read buffer within `timeout` seconds (polling without sleeping
        for the first `spin_s`, as `recv` does); EOFError when the peer is gone."""
        deadline = time.monotonic() + timeout
        if spin_s and not self.buffered():
            self._spin(min(spin_s, timeout))
        poller = None
        while not self.buffered():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            if poller is None:
                poller = select.poll()
                poller.register(self.sock, select.POLLIN)
            if not poller.poll(remaining * 1000):
                return False
            self._fill()
        return True

    def _spin(self, spin_s: float) -> None:
        deadline = time.perf_counter() + spin_s
        while not self.buffered() and time.perf_counter() < deadline:
            try:
                chunk = self.sock.recv(_CHUNK, socket.MSG_DONTWAIT)
            except BlockingIOError:
                os.sched_yield()  # let any other runnable process have the core meanwhile
                continue
            except OSError as exc:
                raise EOFError(str(exc)) from None
            if not chunk:
                raise EOFError("channel closed")
            self._buffer += chunk

    def _fill(self) -> None:
        try:
            chunk = self.sock.recv(_CHUNK)
        except (ConnectionResetError, OSError) as exc:
            raise EOFError(str(exc)) from None
        if not chunk:
            raise EOFError("channel closed")
        self._buffer += chunk

    def read_available(self) -> list[Any]:
        """After the socket polled readable: read once and return every complete message (may be none)."""
        self._fill()
        return self.drain()

    def drain(self) -> list[Any]:
        """Every complete message already in the read buffer."""
        messages = []
        while self.buffered():
            messages.append(self.recv())
        return messages

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass
