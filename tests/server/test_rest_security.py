"""The server's checks on who may ask, against a real experiment on 127.0.0.1: cross-origin and form
writes are refused, a non-loopback bind needs a token, a token is checked on every request and never logged."""
from __future__ import annotations

import logging

import pytest
import requests

import tunelab
from tunelab import TuneError
from tunelab.trial import Trial
from tunelab.web_server import TuneClient, TuneServer

from .live import running

pytestmark = pytest.mark.timeout(60)

TOKEN = "s3cret-Token-0123456789"
CONFIG = {"lr": tunelab.grid_search([0.1, 0.2])}
SPEC = {"run": "looping_trainable", "config": {"lr": 0.5}}


@pytest.fixture(autouse=True)
def four_cpus(fresh_executor):
    tunelab.init(num_cpus=4)


def test_cross_origin_and_form_writes_are_refused():
    with running(CONFIG) as live:
        victim = live.trials()[0]["id"]
        evil = {"Origin": "http://evil.example"}
        answer = live.http.put(f"{live.url}/trials/{victim}", headers=evil)
        assert answer.status_code == 403 and "Cross-origin" in answer.json()["message"]
        answer = live.http.post(f"{live.url}/trials", json={"name": "x", "spec": SPEC}, headers=evil)
        assert answer.status_code == 403
        # another port of the same host is another origin too; so is a sandboxed page ("null")
        other_port = {"Origin": f"http://127.0.0.1:{live.port + 1}"}
        assert live.http.put(f"{live.url}/trials/{victim}", headers=other_port).status_code == 403
        assert live.http.put(f"{live.url}/trials/{victim}", headers={"Origin": "null"}).status_code == 403
        assert live.http.put(f"{live.url}/trials/{victim}", headers={"Sec-Fetch-Site": "cross-site"}).status_code == 403
        # what an HTML form on any site can send: form-encoded or text/plain bodies
        form = live.http.post(f"{live.url}/trials", data={"name": "x", "spec": "{}"})
        assert form.status_code == 415
        text = live.http.post(f"{live.url}/trials", data='{"name": "x", "spec": {}}',
                              headers={"Content-Type": "text/plain"})
        assert text.status_code == 415
        seed_stop = live.http.get(f"{live.url}/", json={"command": "STOP", "trial_id": victim}, headers=evil)
        assert seed_stop.status_code == 403
        assert [t["status"] for t in live.trials()] == [Trial.RUNNING] * 2  # nothing was stopped or added

        same = live.http.put(f"{live.url}/trials/{victim}", headers={"Origin": live.url})  # the page's own origin
        assert same.status_code == 200 and same.json()["trial"]["status"] == Trial.TERMINATED
        live.stop_everything()
        assert len(live.finish().trials) == 2


def test_a_non_loopback_address_needs_a_token(monkeypatch, results_dir):
    with pytest.raises(TuneError, match="loopback interface only unless a token"):
        TuneServer(None, port=0, host="0.0.0.0")  # type: ignore[arg-type]
    tunelab.register_trainable("looping_trainable", lambda config: None)
    with pytest.raises(TuneError, match="server_host='0.0.0.0'|host='0.0.0.0'"):
        tunelab.run("looping_trainable", with_server=True, server_port=0, server_host="0.0.0.0", verbose=0)
    monkeypatch.setenv("TUNELAB_SERVER_HOST", "0.0.0.0")
    with pytest.raises(TuneError, match="without server_token"):
        tunelab.run("looping_trainable", with_server=True, server_port=0, verbose=0)
    with pytest.raises(TuneError, match="server_token must be a string of at least 16"):
        TuneServer(None, port=0, token="short")  # type: ignore[arg-type]
    with pytest.raises(TuneError, match="need with_server=True"):
        tunelab.run("looping_trainable", server_token=TOKEN, verbose=0)


def test_with_a_token_every_request_needs_it_and_it_is_never_logged(caplog):
    caplog.set_level(logging.DEBUG, logger="tunelab.server")
    with running(CONFIG, token=TOKEN) as live:
        bare = requests.Session()
        bare.trust_env = False
        for path in ("/", "/trials", "/openapi.json", "/static/dashboard.js", f"/?token=wrong-{TOKEN}"):
            answer = bare.get(live.url + path, allow_redirects=False)
            assert answer.status_code == 401, path
            assert TOKEN not in answer.text
        assert bare.put(f"{live.url}/trials/{live.trials()[0]['id']}").status_code == 401
        with pytest.raises(TuneError, match="401"):
            TuneClient(f"127.0.0.1:{live.port}").get_all_trials()

        assert len(live.trials()) == 2  # live.http sends Authorization: Bearer <token>
        visit = bare.get(f"{live.url}/?token={TOKEN}", allow_redirects=False)  # the page's first visit
        assert visit.status_code == 303 and visit.headers["Location"] == "/"
        assert "HttpOnly" in visit.headers["Set-Cookie"] and "SameSite=Strict" in visit.headers["Set-Cookie"]
        page = bare.get(f"{live.url}/")  # the cookie now carries the token
        assert page.status_code == 200 and "<title>tunelab dashboard</title>" in page.text
        assert len(bare.get(f"{live.url}/trials").json()["trials"]) == 2
        # with the token, the Host header may name this machine by any name (no DNS-rebinding risk)
        assert live.http.get(f"{live.url}/trials", headers={"Host": f"myhost.example:{live.port}"}).status_code == 200
        live.stop_everything()
        live.finish()
    logged = caplog.text
    assert "/trials" in logged and "token=***" in logged  # requests were logged, with the token blanked
    assert TOKEN not in logged
