"""The OpenAPI document at /openapi.json is true: every route of the server is in it, and a fuzz run from
it (schemathesis) against a running experiment on 127.0.0.1 gets only documented answers, never a 500;
the experiment keeps running and ends normally."""
from __future__ import annotations

import pytest

import tunelab
from tunelab.trial import Trial

from .live import running

pytestmark = pytest.mark.timeout(90)

CONFIG = {"lr": tunelab.grid_search([0.1, 0.2])}
EXAMPLES_PER_OPERATION = 25


@pytest.fixture(autouse=True)
def four_cpus(fresh_executor):
    tunelab.init(num_cpus=4)


def test_every_documented_operation_answers_as_documented():
    with running(CONFIG) as live:
        document = live.http.get(f"{live.url}/openapi.json").json()
        assert document["openapi"].startswith("3.")
        trial_id = live.trials()[0]["id"]
        documented = {(path, method) for path, item in document["paths"].items() for method in item
                      if method in ("get", "put", "post", "delete")}
        assert documented == {
            ("/", "get"), ("/openapi.json", "get"), ("/static/dashboard.js", "get"), ("/static/plotly.min.js", "get"),
            ("/info", "get"), ("/trials", "get"), ("/trials", "post"), ("/trials/{trial_id}", "get"),
            ("/trials/{trial_id}", "put"), ("/trials/{trial_id}/results", "get"), ("/best", "get"),
            ("/importance", "get")}
        for path, method in sorted(documented):
            if method != "get":
                continue
            answer = live.http.get(live.url + path.replace("{trial_id}", trial_id),
                                   params={"metric": "loss", "mode": "min"})
            assert answer.status_code == 200, path
            documented_type = next(iter(document["paths"][path]["get"]["responses"]["200"]["content"]))
            assert answer.headers["Content-Type"].split(";")[0] == documented_type, path
        assert live.http.get(f"{live.url}/undocumented").status_code == 404
        live.stop_everything()
        live.finish()


def test_fuzzing_the_api_from_its_schema_finds_no_server_error():
    schemathesis = pytest.importorskip("schemathesis", reason="schemathesis is not installed (pip install 'tunelab[test]')")
    from hypothesis import HealthCheck, Phase, given, settings
    from schemathesis.checks import (
        content_type_conformance,
        not_a_server_error,
        response_schema_conformance,
        status_code_conformance,
    )

    with running(CONFIG) as live:
        before = {t["id"]: t["status"] for t in live.trials()}
        schema = schemathesis.openapi.from_url(f"{live.url}/openapi.json")
        checks = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
        fuzzed, statuses = [], []
        for result in schema.get_all_operations():
            operation = result.ok()
            if operation.path == "/static/plotly.min.js":
                continue  # a 4 MB script: fetched once in test_every_documented_operation_answers_as_documented

            @given(case=operation.as_strategy())
            @settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, derandomize=True, database=None,
                      phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
            def fuzz(case):
                response = case.call(base_url=live.url, session=live.http, timeout=30)
                case.validate_response(response, checks=checks)
                statuses.append(response.status_code)

            fuzz()
            fuzzed.append(f"{operation.method.upper()} {operation.path}")
        assert set(fuzzed) >= {"GET /trials", "POST /trials", "GET /trials/{trial_id}", "PUT /trials/{trial_id}",
                               "GET /trials/{trial_id}/results", "GET /best", "GET /importance", "GET /info", "GET /"}
        assert len(statuses) > 100 and 400 in statuses and 404 in statuses and 200 in statuses

        after = live.trials()  # no fuzzed request added or stopped a trial, and the experiment still runs
        assert {t["id"]: t["status"] for t in after} == before == {t: Trial.RUNNING for t in before}
        live.stop_everything()
        trials = live.finish().trials
    assert len(trials) == 2 and all(t.status == Trial.TERMINATED for t in trials)
