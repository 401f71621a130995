"""`TuneServer`: a running experiment's REST API and dashboard page, served from a daemon thread.

Routes (JSON both ways; the full list with schemas is `openapi.openapi_document()`, served at /openapi.json):
    GET  /                      -> the dashboard page (HTML); with a JSON body, the seed's command form:
                                   {"command": "GET_LIST" | "GET_TRIAL" | "STOP" | "ADD", ...}
    GET  /trials                -> 200 {"trials": [info, ...]}
    GET  /trials/<id>           -> 200 {"trial": info}         (404 if unknown)
    POST /trials                -> 201 {"trials": [info, ...]} body {"name": ..., "spec": {...}}
    PUT  /trials/<id>           -> 200 {"trial": info}          stops the trial (404 if unknown)
    GET  /trials/<id>/results, /best, /importance, /info, /openapi.json, /static/...  (the page's reads)
Errors are {"message": text}. A spec may hold `{"eval": ...}` expressions, so whoever can write can run
code: the server listens on 127.0.0.1 unless a token is given (then every request must carry it), requests
naming another host (DNS rebinding) are refused, and writes from another origin are refused.
"""
from __future__ import annotations

import hmac
import ipaddress
import json
import logging
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, unquote, urlsplit

from tunelab.error import TuneError
from tunelab.server.gateway import (
    ExperimentUnavailable,
    FolderGateway,
    Gateway,
    ReadOnly,
    TrialNotFound,
    TrialReader,
)

if TYPE_CHECKING:
    from tunelab.controller import Controller

__all__ = ["DEFAULT_PORT", "TOKEN_COOKIE", "TuneServer"]

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
#: the cookie that carries the token for the page, set by a visit to /?token=...
TOKEN_COOKIE = "tunelab_token"
#: the page's own files (fixed names: no request can name another file)
STATIC_FILES = {"dashboard.js": "text/javascript; charset=utf-8", "dashboard.css": "text/css; charset=utf-8"}
#: what the page may load: its own server only (plotly adds inline styles; it needs no eval)
PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
                               "img-src 'self' data: blob:; connect-src 'self'; font-src 'self'; "
                               "base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
    "X-Frame-Options": "DENY", "Referrer-Policy": "no-referrer", "X-Content-Type-Options": "nosniff",
}
_TOKEN_IN_TEXT = re.compile(r"(token=)[^&\s\"';]*", re.IGNORECASE)


class TuneServer:
    """Serves `controller`'s trials on `host:port` (port 0 picks a free port, see `.port`).

    `host` is 127.0.0.1 unless `token` is given: then any address may be bound, and every request must
    carry the token (`Authorization: Bearer <token>`, or the cookie a visit to `/?token=<token>` sets).
    Listening starts at construction, as in the seed; `shutdown()` (or leaving a `with` block) stops it.
    Writes wait up to `timeout_s` for the controller's loop to take them. `TuneServer.for_folder(path)`
    serves a finished experiment from its files, read-only.
    """

    def __init__(self, controller: Controller | None, port: int = DEFAULT_PORT, host: str = "127.0.0.1",
                 timeout_s: float = 30.0, token: str | None = None, *, reader: TrialReader | None = None):
        token = _check_token(token)
        host = _bind_host(host, token)
        if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
            raise TuneError(f"server_port must be an integer in 0..65535 (0 picks a free port), got {port!r}")
        if reader is None:
            if controller is None:
                raise TuneError("TuneServer needs a controller (or a reader, see TuneServer.for_folder)")
            reader = Gateway(controller, timeout_s)
        self.gateway = reader
        try:
            self._httpd = _HTTPServer((host, port), _Handler)
        except OSError as exc:
            raise TuneError(f"The tunelab server could not listen on {host}:{port}: {exc}. "
                            "Pass another server_port (0 picks a free one).") from exc
        self._httpd.gateway = self.gateway
        self._httpd.token = token
        self.host = host
        self.port: int = self._httpd.server_address[1]
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.1},
                                        name=f"tunelab-server-{self.port}", daemon=True)
        self._thread.start()
        self._stopped = False
        logger.info("tunelab server listening on http://%s%s", self.address,
                    " (token required)" if token else "")

    @classmethod
    def for_folder(cls, path: str, port: int = DEFAULT_PORT, host: str = "127.0.0.1",
                   token: str | None = None) -> TuneServer:
        """Serve the experiment folder `path` read-only (what `tunelab dashboard` runs)."""
        return cls(None, port=port, host=host, token=token, reader=FolderGateway(path))

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


def _check_token(token: str | None) -> str | None:
    if token is None or token == "":
        return None
    if not isinstance(token, str) or len(token) < 16 or not token.isascii() or not token.isprintable() \
            or any(c in token for c in " ;,&=\"'\\"):
        raise TuneError("server_token must be a string of at least 16 printable ASCII characters without spaces, "
                        "quotes, ';', ',', '&', '=' or '\\' (e.g. secrets.token_urlsafe()); got one that is not "
                        f"({type(token).__name__} of length {len(token) if isinstance(token, str) else '?'})")
    return token


def _is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _bind_host(host: str, token: str | None) -> str:
    """The address to listen on: loopback (IPv4) always; another one only with a token."""
    if not isinstance(host, str):
        raise TuneError(f"server_host must be a string such as '127.0.0.1', got {host!r}")
    if host == "localhost":
        return "127.0.0.1"
    try:
        if ipaddress.IPv4Address(host).is_loopback:
            return host
    except ValueError:
        pass
    if token is None:
        raise TuneError(f"TuneServer listens on the loopback interface only unless a token is set (specs can run "
                        f"code), got host={host!r} without server_token; use '127.0.0.1' (and an SSH tunnel), or pass "
                        "server_token= (or TUNELAB_SERVER_TOKEN) so that every request must carry it")
    if not host:
        raise TuneError("server_host must name an address to listen on, e.g. '0.0.0.0', got ''")
    return host


def _is_local_name(host_header: str) -> bool:
    """True when a `Host` header names this machine's loopback (with or without a port)."""
    name = host_header.split("]")[0].lstrip("[") if host_header.startswith("[") else host_header.rsplit(":", 1)[0]
    return _is_loopback(name)


class _HTTPServer(ThreadingHTTPServer):
    """One thread per request, at most MAX_CONCURRENT_REQUESTS at once (the accept loop waits for a free
    slot; the kernel queues new connections meanwhile)."""

    daemon_threads = True
    request_queue_size = LISTEN_BACKLOG
    gateway: TrialReader
    token: str | None

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
    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status = status
        self.headers = headers or {}


class _Answer:
    """A non-JSON answer (the page, a script, a redirect)."""

    def __init__(self, status: int, body: bytes, content_type: str, headers: dict[str, str] | None = None):
        self.status, self.body, self.content_type, self.headers = status, body, content_type, headers or {}


class _Handler(BaseHTTPRequestHandler):
    """One request: check who sends it, route it, map errors to status codes, answer."""

    server: _HTTPServer
    server_version = "tunelab"
    timeout = CONNECTION_TIMEOUT_S  # the socket's timeout for reading the request and writing the answer
    authenticated = False  # the request carried the server's token

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("%s %s", self.address_string(), self._redacted(format % args))

    def _redacted(self, text: str) -> str:
        """`text` with the token (and any `token=` value) blanked: the token never reaches a log."""
        token = self.server.token
        if token:
            text = text.replace(token, "***")
        return _TOKEN_IN_TEXT.sub(r"\1***", text)

    def _dispatch(self, method: str) -> None:
        url = urlsplit(self.path)
        parts = [unquote(p) for p in url.path.split("/") if p]
        headers: dict[str, str] = {}
        try:
            self._check_sender(method, parts, url.query)
            answer = self._route(method, parts, parse_qs(url.query))
        except _HTTPError as exc:
            answer, headers = (exc.status, {"message": str(exc)}), exc.headers
        except ExperimentUnavailable as exc:
            answer = (503, {"message": str(exc)})
        except TrialNotFound as exc:
            answer = ((404 if parts else 400), {"message": str(exc)})  # the seed's form answered 400
        except ReadOnly as exc:
            answer = (405, {"message": str(exc)})
        except TuneError as exc:
            answer = (400, {"message": str(exc)})
        except Exception as exc:
            logger.exception("tunelab server: %s %s failed", method, self._redacted(url.path))
            answer = (500, {"message": f"{type(exc).__name__}: {exc}"})
        if isinstance(answer, _Answer):
            self._send_bytes(answer.status, answer.body, answer.content_type, answer.headers)
        else:
            status, payload, *extra = answer
            self._send(status, payload, {**(extra[0] if extra else {}), **headers})

    # -- who may ask -------------------------------------------------------------------------------
    def _check_sender(self, method: str, parts: list[str], query: str) -> None:
        """The token (when the server has one), else a loopback Host; for writes, the same origin."""
        token = self.server.token
        if token is None:
            if not _is_local_name(self.headers.get("Host", "localhost")):
                raise _HTTPError(403, f"Host {self.headers.get('Host')!r} is not this machine's loopback address.")
        else:
            given = _bearer(self.headers.get("Authorization")) or _cookie(self.headers.get("Cookie"))
            visit = parse_qs(query).get("token") if not parts and method == "GET" else None
            if visit and hmac.compare_digest(visit[0].encode(), token.encode()):  # the page's first visit
                raise _HTTPError(303, "Token accepted; go to /.", {
                    "Location": "/", "Set-Cookie": f"{TOKEN_COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict"})
            if given is None or not hmac.compare_digest(given.encode(), token.encode()):
                raise _HTTPError(401, "This server needs its token: send 'Authorization: Bearer <token>', or open "
                                      "/?token=<token> once in the browser.", {"WWW-Authenticate": "Bearer"})
            self.authenticated = True
        if method != "GET" or (not parts and self._has_body()):  # writes, and the seed's command form
            self._check_same_origin()

    def _check_same_origin(self) -> None:
        """Refuse a write a page on another site makes the browser send (CSRF)."""
        origin = self.headers.get("Origin")
        host = (self.headers.get("Host") or "").lower()
        if origin is not None and (origin == "null" or urlsplit(origin).netloc.lower() != host):
            raise _HTTPError(403, f"Cross-origin write refused: Origin {origin!r} is not this server ({host}).")
        if self.headers.get("Sec-Fetch-Site") not in (None, "same-origin", "none"):
            raise _HTTPError(403, f"Cross-site write refused (Sec-Fetch-Site: {self.headers.get('Sec-Fetch-Site')}).")

    def _check_eval_allowed(self, spec: Any) -> None:
        """`{"eval": ...}` runs code: only from this machine, or with the token."""
        if _has_eval(spec) and not (self.authenticated or _is_loopback(self.client_address[0])):
            raise _HTTPError(403, "Specs with {\"eval\": ...} are only accepted from loopback or with the token.")

    def _has_body(self) -> bool:
        return self._content_length() > 0

    def _content_length(self) -> int:
        text = self.headers.get("Content-Length") or "0"
        if not text.strip().isdigit():
            raise _HTTPError(400, f"Content-Length must be a number of bytes, got {text!r}.")
        return int(text)

    # -- routes ------------------------------------------------------------------------------------
    def _route(self, method: str, parts: list[str], query: dict[str, list[str]]) -> Any:
        gateway = self.server.gateway
        if not parts and method == "GET":
            if self._has_body():
                return 200, _run_command(gateway, self._json_body(), self._check_eval_allowed)
            return _Answer(200, _asset("dashboard.html"), "text/html; charset=utf-8", PAGE_HEADERS)
        if method == "GET" and len(parts) == 1 and parts[0] in ("openapi.json", "info", "best", "importance"):
            return 200, self._read(parts[0], gateway, query)
        if method == "GET" and len(parts) == 2 and parts[0] == "static":
            return self._static(parts[1])
        if not parts or parts[0] != "trials" or len(parts) > 3 or (len(parts) == 3 and parts[2] != "results"):
            raise _HTTPError(404, f"No such endpoint: {method} {urlsplit(self.path).path}; see GET /openapi.json")
        if len(parts) == 1 and method == "GET":
            return 200, {"trials": gateway.list_trials()}
        if len(parts) == 1 and method == "POST":
            if self.headers.get_content_type() != "application/json":
                raise _HTTPError(415, "POST /trials needs a JSON body with Content-Type: application/json")
            body = self._json_body()
            name, spec = _field(body, "name"), _field(body, "spec")
            if not isinstance(name, str) or not isinstance(spec, dict):
                raise TuneError(f"POST /trials needs a string 'name' and an object 'spec', got {name!r} and "
                                f"{type(spec).__name__}")
            self._check_eval_allowed(spec)
            trials = gateway.add_trials(name, spec)
            if trials is None:  # queued for a TrialRunner's next step()
                return 202, {"trials": [], "queued": True}
            return 201, {"trials": trials}, {"Location": "/trials/"}
        if len(parts) == 3 and method == "GET":
            return 200, {"results": gateway.history(parts[1])}
        if len(parts) == 2 and method == "GET":
            return 200, {"trial": gateway.get_trial(parts[1])}
        if len(parts) == 2 and method == "PUT":
            trial = gateway.stop_trial(parts[1])
            return (200, {"trial": trial}) if trial is not None else (202, {"trial": None, "queued": True})
        allowed = {1: "GET, POST", 2: "GET, PUT", 3: "GET"}[len(parts)]
        raise _HTTPError(405, f"{method} is not allowed on {urlsplit(self.path).path}; allowed: {allowed}")

    def _read(self, what: str, gateway: TrialReader, query: dict[str, list[str]]) -> dict:
        if what == "openapi.json":
            from tunelab.server.openapi import openapi_document

            return openapi_document()
        if what == "info":
            return {"read_only": gateway.read_only, "experiment": gateway.title()}
        metric, mode = _query_field(query, "metric"), _query_field(query, "mode")
        if what == "best":
            return {"points": gateway.best_so_far(metric, mode)}
        return gateway.importance(metric, mode)

    def _static(self, name: str) -> _Answer:
        if name == "plotly.min.js":
            return _Answer(200, _plotly_js(), "text/javascript; charset=utf-8", {"Cache-Control": "max-age=3600"})
        if name not in STATIC_FILES:
            raise _HTTPError(404, f"No such file: /static/{name}")
        return _Answer(200, _asset(name), STATIC_FILES[name], {"Cache-Control": "no-cache"})

    def _json_body(self) -> dict:
        length = self._content_length()
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
        try:
            text = json.dumps(payload, allow_nan=False)
        except ValueError:  # NaN or infinity in a result: null, which JSON (and a browser) can read
            text = json.dumps(_nan_to_none(payload))
        self._send_bytes(status, text.encode("utf-8"), "application/json", {"Cache-Control": "no-store", **headers})

    def _send_bytes(self, status: int, body: bytes, content_type: str, headers: dict[str, str]) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for key, value in headers.items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(body)


def _nan_to_none(value: Any) -> Any:
    """NaN and infinities as null: what a browser's JSON.parse (and the schema) can read."""
    if isinstance(value, float) and (value != value or value in (float("inf"), float("-inf"))):
        return None
    if isinstance(value, dict):
        return {k: _nan_to_none(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_nan_to_none(v) for v in value]
    return value


def _bearer(header: str | None) -> str | None:
    if header and header[:7].lower() == "bearer ":
        return header[7:].strip()
    return None


def _cookie(header: str | None) -> str | None:
    for item in (header or "").split(";"):
        key, _, value = item.strip().partition("=")
        if key == TOKEN_COOKIE:
            return value
    return None


def _query_field(query: dict[str, list[str]], key: str) -> str:
    values = query.get(key)
    if not values or not values[0]:
        raise TuneError(f"The query needs a {key!r} parameter, e.g. ?metric=loss&mode=min")
    return values[0]


def _has_eval(value: Any) -> bool:
    if isinstance(value, dict):
        return "eval" in value or any(_has_eval(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_eval(v) for v in value)
    return False


_ASSETS: dict[str, bytes] = {}


def _asset(name: str) -> bytes:
    """A file of the page shipped in tunelab/server/static (read once)."""
    if name not in _ASSETS:
        from importlib.resources import files

        _ASSETS[name] = (files("tunelab.server") / "static" / name).read_bytes()
    return _ASSETS[name]


def _plotly_js() -> bytes:
    """plotly.js from the installed `plotly` package (never a CDN: the page works offline)."""
    if "plotly.min.js" not in _ASSETS:
        try:
            from importlib.resources import files

            _ASSETS["plotly.min.js"] = (files("plotly") / "package_data" / "plotly.min.js").read_bytes()
        except (ImportError, OSError):
            raise ExperimentUnavailable("The page's plots need the plotly package: pip install 'tunelab[server]'") \
                from None
    return _ASSETS["plotly.min.js"]


def _run_command(gateway: TrialReader, body: dict, check_eval: Any) -> dict:
    """The seed's JSON-command form: `GET /` with `{"command": ..., ...}`."""
    command = body.get("command")
    if command == "GET_LIST":
        return {"trials": gateway.list_trials()}
    if command == "GET_TRIAL":
        return {"trial_info": gateway.get_trial(_field(body, "trial_id"))}
    if command == "STOP":
        return {"trial_info": gateway.stop_trial(_field(body, "trial_id"))}
    if command == "ADD":
        spec = _field(body, "spec")
        check_eval(spec)
        return {"trials": gateway.add_trials(_field(body, "name"), spec)}
    raise TuneError(f"Unknown command {command!r}; allowed: {', '.join(COMMANDS)}.")


def _field(body: dict, key: str) -> Any:
    if key not in body:
        raise TuneError(f"The request body needs a {key!r} field; got keys {sorted(body)}.")
    return body[key]
