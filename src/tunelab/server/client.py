"""`TuneClient`: talk to a running experiment's `TuneServer` (needs `requests`: `pip install 'tunelab[server]'`)."""
from __future__ import annotations

from typing import Any

from tunelab.error import TuneError

__all__ = ["TuneClient"]

DEFAULT_PORT = 4321


class TuneClient:
    """Client of the REST API: `TuneClient("localhost:4321")` (seed) or `TuneClient("localhost", 4321)` (0.6).

    Every method returns the server's parsed JSON answer; an error answer raises TuneError with its message.
    """

    def __init__(self, tune_address: str = f"localhost:{DEFAULT_PORT}", port_forward: int | None = None):
        requests = _import_requests()
        self._session = requests.Session()
        self._session.trust_env = False  # a local server: never route through an HTTP(S)_PROXY from the env
        self._exceptions = requests.exceptions
        host, port = _split_address(tune_address)
        if port_forward is not None:
            port = int(port_forward)
        if host == "localhost":  # the server listens on IPv4 only; avoid trying ::1 first
            host = "127.0.0.1"
        self.address = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        self._base = f"http://{self.address}"

    def get_all_trials(self) -> dict:
        """`{"trials": [info, ...]}` for every trial of the experiment."""
        return self._call("GET", "/trials")

    def get_trial(self, trial_id: str) -> dict:
        """`{"trial": info}`; TuneError if no trial has this id."""
        return self._call("GET", f"/trials/{trial_id}")

    def add_trial(self, name: str, specification: dict) -> dict:
        """Expand the experiment spec `{name: specification}` and add its trials: `{"trials": [info, ...]}`."""
        return self._call("POST", "/trials", {"name": name, "spec": specification})

    def stop_trial(self, trial_id: str) -> dict:
        """Stop (terminate) a trial: `{"trial": info}` after the stop."""
        return self._call("PUT", f"/trials/{trial_id}")

    def _call(self, method: str, path: str, body: dict | None = None) -> dict:
        url = self._base + path
        try:
            response = self._session.request(method, url, json=body, timeout=(5, 120))
        except self._exceptions.RequestException as exc:
            raise TuneError(f"Could not reach the tunelab server at {self._base}: {exc}. Is an experiment "
                            "running with with_server=True on this port?") from None
        try:
            payload: Any = response.json()
        except ValueError:
            payload = None
        if not response.ok:
            message = payload.get("message") if isinstance(payload, dict) else None
            raise TuneError(f"{method} {path} failed ({response.status_code}): {message or response.text.strip()}")
        if not isinstance(payload, dict):
            raise TuneError(f"{method} {path}: the server at {self._base} did not answer JSON: {response.text[:200]!r}")
        return payload

    def __repr__(self) -> str:
        return f"TuneClient({self.address!r})"


def _split_address(address: str) -> tuple[str, int]:
    """`"host:port"`, `"host"` or `"http://host:port/"` -> (host, port)."""
    if not isinstance(address, str) or not address:
        raise TuneError(f"tune_address must be 'host:port', e.g. 'localhost:4321', got {address!r}")
    address = address.split("://", 1)[-1].rstrip("/")
    if address.startswith("["):  # "[::1]:4321"
        host, _, rest = address[1:].partition("]")
        port = rest.removeprefix(":")
    else:
        host, _, port = address.partition(":")
    if not host or (port and not port.isdigit()):
        raise TuneError(f"tune_address must be 'host:port', e.g. 'localhost:4321', got {address!r}")
    return host, int(port) if port else DEFAULT_PORT


def _import_requests() -> Any:
    try:
        import requests
    except ImportError:
        raise TuneError("TuneClient needs the 'requests' package: pip install 'tunelab[server]'") from None
    return requests
