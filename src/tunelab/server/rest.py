"""`TuneServer`: a running experiment's REST API, served from a daemon thread on the loopback interface.

Routes (plain JSON both ways):
    GET  /trials          -> 200 {"trials": [info, ...]}
    GET  /trials/<id>     -> 200 {"trial": info}         (404 if unknown)
    POST /trials          -> 201 {"trials": [info, ...]} body {"name": ..., "spec": {...}}
    PUT  /trials/<id>     -> 200 {"trial": info}          stops the trial (404 if unknown)
    GET  /                -> the seed's command form: body {"command": "GET_LIST" | "GET_TRIAL" | "STOP" | "ADD", ...}
Errors are {"message": text}. The server only listens on 127.0.0.1: a spec may hold `{"eval": ...}`
expressions, so whoever can reach it can run code; requests naming another host (DNS rebinding) are refused.
"""
from __future__ import annotations

import ipaddress
import json
import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

from tunelab.error import TuneError
from tunelab.server.gateway import ExperimentUnavailable, Gateway, TrialNotFound

if TYPE_CHECKING:
    from tunelab.controller import Controller

__all__ = ["DEFAULT_PORT", "TuneServer"]

logger = logging.getLogger(__name__)

DEFAULT_PORT = 4321
MAX_BODY_BYTES = 1 << 20
#: connections the kernel queues while every handler is busy (the socketserver default, 5, drops clients)
LISTEN_BACKLOG = 1024
#: requests served at once, one thread each; further connections wait in the listen backlog
MAX_CONCURRENT_REQUESTS = 256
#: a connection silent (or trickling) for this long while its request is read or answered is dropped, so
#: idle or slow peers cannot hold the server's threads
CONNECTION_TIMEOUT_S = 10.0
COMMANDS = ("GET_LIST", "GET_TRIAL", "STOP", "ADD")


class TuneServer:
    """Serves `controller`'s trials on `host:port` (loopback only; port 0 picks a free port, see `.port`).

    Listening starts at construction, as in the seed; `shutdown()` (or leaving a `with` block) stops it.
    Writes wait up to `timeout_s` for the controller's loop to take them.
    """

    def __init__(self, controller: Controller, port: int = DEFAULT_PORT, host: str = "127.0.0.1",
                 timeout_s: float = 30.0):
        host = _loopback_host(host)
        if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
            raise TuneError(f"server_port must be an integer in 0..65535 (0 picks a free port), got {port!r}")
        self.gateway = Gateway(controller, timeout_s)
        try:
            self._httpd = _HTTPServer((host, port), _Handler)
        except OSError as exc:
            raise TuneError(f"The tunelab server could not listen on {host}:{port}: {exc}. "
                            "Pass another server_port (0 picks a free one).") from exc
        self._httpd.gateway = self.gateway
        self.host = host
        self.port: int = self._httpd.server_address[1]
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.1},
                                        name=f"tunelab-server-{self.port}", daemon=True)
        self._thread.start()
        self._stopped = False
        logger.info("tunelab server listening on http://%s", self.address)

    @property
    def address(self) -> str:
        """`host:port`, what `TuneClient` takes."""
        return f"{self.host}:{self.port}"

    def shutdown(self) -> None:
        """Stop serving and release the port; queued commands fail (idempotent)."""
        if self._stopped:
            return
        self._stopped = True
        self.gateway.close()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> TuneServer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.shutdown()


def _loopback_host(host: str) -> str:
    """`host` as an IPv4 loopback address; anything else is refused (see the module docstring)."""
    if host == "localhost":
        return "127.0.0.1"
    try:
        if ipaddress.IPv4Address(host).is_loopback:
            return host
    except ValueError:
        pass
    raise TuneError(f"TuneServer listens on the loopback interface only (specs can run code), got host={host!r}; "
                    "use '127.0.0.1' and reach it from elsewhere through an SSH tunnel")


def _is_local_name(host_header: str) -> bool:
    """True when a `Host` header names this machine's loopback (with or without a port)."""
    name = host_header.split("]")[0].lstrip("[") if host_header.startswith("[") else host_header.rsplit(":", 1)[0]
    if name.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


class _HTTPServer(ThreadingHTTPServer):
    """One thread per request, at most MAX_CONCURRENT_REQUESTS at once (the accept loop waits for a free
    slot; the kernel queues new connections meanwhile)."""

    daemon_threads = True
    request_queue_size = LISTEN_BACKLOG
    gateway: Gateway

    def __init__(self, *args: Any, **kwargs: Any):
        self._slots = threading.BoundedSemaphore(MAX_CONCURRENT_REQUESTS)
        super().__init__(*args, **kwargs)

    def process_request(self, request: Any, client_address: Any) -> None:
        self._slots.acquire()
        try:
            super().process_request(request, client_address)
        except BaseException:
            self._slots.release()
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._slots.release()


class _HTTPError(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


class _Handler(BaseHTTPRequestHandler):
    """One request: route it, map errors to status codes, answer JSON."""

    server: _HTTPServer
    server_version = "tunelab"
    timeout = CONNECTION_TIMEOUT_S  # the socket's timeout for reading the request and writing the answer

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("%s " + format, self.address_string(), *args)

    def _dispatch(self, method: str) -> None:
        parts = [unquote(p) for p in urlsplit(self.path).path.split("/") if p]
        headers: dict[str, str] = {}
        try:
            if not _is_local_name(self.headers.get("Host", "localhost")):
                raise _HTTPError(403, f"Host {self.headers.get('Host')!r} is not this machine's loopback address.")
            status, payload, headers = self._route(method, parts)
        except _HTTPError as exc:
            status, payload = exc.status, {"message": str(exc)}
        except ExperimentUnavailable as exc:
            status, payload = 503, {"message": str(exc)}
        except TrialNotFound as exc:
            status, payload = (404 if parts else 400), {"message": str(exc)}  # the seed's form answered 400
        except TuneError as exc:
            status, payload = 400, {"message": str(exc)}
        except Exception as exc:
            logger.exception("tunelab server: %s %s failed", method, self.path)
            status, payload = 500, {"message": f"{type(exc).__name__}: {exc}"}
        self._send(status, payload, headers)

    def _route(self, method: str, parts: list[str]) -> tuple[int, dict, dict[str, str]]:
        gateway = self.server.gateway
        if not parts and method == "GET":
            return 200, _run_command(gateway, self._json_body()), {}
        if not parts or parts[0] != "trials" or len(parts) > 2:
            raise _HTTPError(404, f"No such endpoint: {method} {self.path}; see GET /trials")
        if len(parts) == 1 and method == "GET":
            return 200, {"trials": gateway.list_trials()}, {}
        if len(parts) == 1 and method == "POST":
            if self.headers.get_content_type() != "application/json":
                raise _HTTPError(415, "POST /trials needs a JSON body with Content-Type: application/json")
            body = self._json_body()
            trials = gateway.add_trials(_field(body, "name"), _field(body, "spec"))
            if trials is None:  # queued for a TrialRunner's next step()
                return 202, {"trials": [], "queued": True}, {}
            return 201, {"trials": trials}, {"Location": "/trials/"}
        if len(parts) == 2 and method == "GET":
            return 200, {"trial": gateway.get_trial(parts[1])}, {}
        if len(parts) == 2 and method == "PUT":
            trial = gateway.stop_trial(parts[1])
            return (200, {"trial": trial}, {}) if trial is not None else (202, {"trial": None, "queued": True}, {})
        allowed = "GET, POST" if len(parts) == 1 else "GET, PUT"
        raise _HTTPError(405, f"{method} is not allowed on {self.path}; allowed: {allowed}")

    def _json_body(self) -> dict:
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY_BYTES:
            raise _HTTPError(413, f"The request body is over {MAX_BODY_BYTES} bytes.")
        try:
            raw = self.rfile.read(length) if length > 0 else b""
        except TimeoutError:
            raise _HTTPError(408, f"The request body did not arrive within {self.timeout:g} s.") from None
        try:
            body = json.loads(raw.decode("utf-8")) if raw else None
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise _HTTPError(400, f"The request body is not valid JSON: {exc}") from None
        if not isinstance(body, dict):
            raise _HTTPError(400, "The request needs a JSON object body, e.g. {\"command\": \"GET_LIST\"}.")
        return body

    def _send(self, status: int, payload: dict, headers: dict[str, str]) -> None:
        body = json.dumps(payload).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for key, value in headers.items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(body)


def _run_command(gateway: Gateway, body: dict) -> dict:
    """The seed's JSON-command form: `GET /` with `{"command": ..., ...}`."""
    command = body.get("command")
    if command == "GET_LIST":
        return {"trials": gateway.list_trials()}
    if command == "GET_TRIAL":
        return {"trial_info": gateway.get_trial(_field(body, "trial_id"))}
    if command == "STOP":
        return {"trial_info": gateway.stop_trial(_field(body, "trial_id"))}
    if command == "ADD":
        return {"trials": gateway.add_trials(_field(body, "name"), _field(body, "spec"))}
    raise TuneError(f"Unknown command {command!r}; allowed: {', '.join(COMMANDS)}.")


def _field(body: dict, key: str) -> Any:
    if key not in body:
        raise TuneError(f"The request body needs a {key!r} field; got keys {sorted(body)}.")
    return body[key]
