"""The OpenAPI 3 document of the server, served at `/openapi.json`.

Hand-kept next to the routes in `rest.py` (the standard-library server generates nothing); it is kept
true by tests/server/test_openapi.py, which checks that every route answers as documented and fuzzes the
API from this document with schemathesis.
"""
from __future__ import annotations

from typing import Any

from tunelab._version import __version__

__all__ = ["openapi_document"]

_ERROR = {"$ref": "#/components/schemas/Error"}
#: the answer to a write on a step-driven `TrialRunner` (the seed's server): done at its next step()
_QUEUED = {"type": "object", "required": ["queued"], "properties": {"queued": {"type": "boolean"}}}

_TRIAL_ID = {"name": "trial_id", "in": "path", "required": True, "schema": {"type": "string"},
             "description": "the trial's id, as listed by GET /trials"}
_METRIC_QUERY = [
    {"name": "metric", "in": "query", "required": True, "schema": {"type": "string", "minLength": 1},
     "description": "result key to rank by (`a/b` reaches a nested value)"},
    {"name": "mode", "in": "query", "required": True, "schema": {"type": "string", "enum": ["min", "max"]}},
]


def _json(schema: dict, description: str) -> dict:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _errors(*codes: int) -> dict[str, Any]:
    meaning = {400: "bad request (the message says what is allowed)", 401: "token missing or wrong",
               403: "refused: another host (DNS rebinding), another origin, or an `eval` spec from afar",
               404: "no such trial or endpoint", 405: "method not allowed, or a write on a read-only server",
               408: "the body did not arrive in time", 413: "body over 1 MiB",
               415: "a write without Content-Type: application/json", 503: "the experiment has ended or is busy"}
    always = (401, 403)
    return {str(c): _json(_ERROR, meaning[c]) for c in sorted(set(codes) | set(always))}


def openapi_document() -> dict[str, Any]:
    """The OpenAPI 3.0 document of every endpoint (what the dashboard page and `TuneClient` use)."""
    trials = {"type": "object", "required": ["trials"], "additionalProperties": False,
              "properties": {"trials": {"type": "array", "items": {"$ref": "#/components/schemas/TrialInfo"}}}}
    one_trial = {"type": "object", "required": ["trial"], "additionalProperties": False,
                 "properties": {"trial": {"$ref": "#/components/schemas/TrialInfo"}}}
    nullable_str = {"type": "string", "nullable": True}
    return {
        "openapi": "3.0.3",
        "info": {"title": "tunelab experiment server", "version": __version__,
                 "description": "Watch and steer a running experiment (or browse a finished one, read-only). "
                                "The seed's command form (GET / with a JSON body {\"command\": ...}) is also "
                                "accepted; see docs/rest.md."},
        "components": {
            "securitySchemes": {
                "token": {"type": "http", "scheme": "bearer",
                          "description": "only when the server was started with a token"},
                "cookie": {"type": "apiKey", "in": "cookie", "name": "tunelab_token",
                           "description": "set by visiting /?token=..."},
            },
            "schemas": {
                "Error": {"type": "object", "required": ["message"],
                          "properties": {"message": {"type": "string"}}},
                "TrialInfo": {
                    "type": "object",
                    "required": ["id", "trainable_name", "config", "status", "result", "experiment_tag", "logdir",
                                 "num_failures", "error_file"],
                    "properties": {
                        "id": {"type": "string"}, "trainable_name": {"type": "string"},
                        "config": {"type": "object"},
                        "status": {"type": "string",
                                   "enum": ["PENDING", "RUNNING", "PAUSED", "TERMINATED", "ERROR"]},
                        "result": {"type": "object", "nullable": True, "description": "the last result"},
                        "experiment_tag": {"type": "string"}, "logdir": nullable_str,
                        "num_failures": {"type": "integer"}, "error_file": nullable_str,
                    },
                },
                "AddRequest": {
                    "type": "object", "required": ["name", "spec"],
                    "properties": {"name": {"type": "string", "description": "experiment name of the new trials"},
                                   "spec": {"type": "object", "description": "an experiment spec in the seed's "
                                            "dict form: run, config (grid_search, eval), num_samples, stop..."}},
                },
            },
        },
        "paths": {
            "/": {"get": {"summary": "the dashboard page", "operationId": "page",
                          "responses": {"200": {"description": "HTML page",
                                                "content": {"text/html": {"schema": {"type": "string"}}}},
                                        "303": {"description": "after /?token=...: sets the token cookie"},
                                        **_errors()}}},
            "/openapi.json": {"get": {"summary": "this document", "operationId": "openapi",
                                      "responses": {"200": _json({"type": "object"}, "OpenAPI 3 document"),
                                                    **_errors()}}},
            "/static/dashboard.js": {"get": {"summary": "the page's script", "operationId": "dashboardScript",
                                             "responses": {"200": {"description": "JavaScript", "content": {
                                                 "text/javascript": {"schema": {"type": "string"}}}},
                                                 **_errors()}}},
            "/static/plotly.min.js": {"get": {"summary": "plotly.js from the installed plotly package",
                                              "operationId": "plotlyScript",
                                              "responses": {"200": {"description": "JavaScript", "content": {
                                                  "text/javascript": {"schema": {"type": "string"}}}},
                                                  **_errors(503)}}},
            "/info": {"get": {"summary": "what this server shows", "operationId": "info", "responses": {
                "200": _json({"type": "object", "required": ["read_only", "experiment"],
                              "properties": {"read_only": {"type": "boolean"}, "experiment": {"type": "string"}}},
                             "read_only is true for `tunelab dashboard` on a folder"), **_errors()}}},
            "/trials": {
                "get": {"summary": "every trial", "operationId": "listTrials",
                        "responses": {"200": _json(trials, "the trials"), **_errors()}},
                "post": {"summary": "add the trials of a spec (the seed's add_trial)", "operationId": "addTrials",
                         "requestBody": {"required": True, "content": {
                             "application/json": {"schema": {"$ref": "#/components/schemas/AddRequest"}}}},
                         "responses": {"201": _json(trials, "the trials created"),
                                       "202": _json(_QUEUED, "queued for a step-driven TrialRunner's next step()"),
                                       **_errors(400, 405, 408, 413, 415, 503)}},
            },
            "/trials/{trial_id}": {
                "parameters": [_TRIAL_ID],
                "get": {"summary": "one trial", "operationId": "getTrial",
                        "responses": {"200": _json(one_trial, "the trial"), **_errors(404)}},
                "put": {"summary": "stop the trial", "operationId": "stopTrial",
                        "responses": {"200": _json(one_trial, "the trial after the stop"),
                                      "202": _json(_QUEUED, "queued for a step-driven TrialRunner's next step()"),
                                      **_errors(404, 405, 503)}},
            },
            "/trials/{trial_id}/results": {
                "parameters": [_TRIAL_ID],
                "get": {"summary": "every result of the trial (its learning curve)", "operationId": "trialResults",
                        "responses": {"200": _json({"type": "object", "required": ["results"], "properties": {
                            "results": {"type": "array", "items": {"type": "object"}}}}, "results in order"),
                            **_errors(404)}},
            },
            "/best": {"get": {"summary": "best metric value so far, over time", "operationId": "bestSoFar",
                              "parameters": _METRIC_QUERY,
                              "responses": {"200": _json({"type": "object", "required": ["points"], "properties": {
                                  "points": {"type": "array", "items": {
                                      "type": "object", "required": ["time", "value", "trial"], "properties": {
                                          "time": {"type": "number"}, "value": {"type": "number"},
                                          "trial": {"type": "string"}}}}}}, "each improvement, in time order"),
                                  **_errors(400)}}},
            "/importance": {"get": {"summary": "parameter importance (Optuna's fANOVA)", "operationId": "importance",
                                    "parameters": _METRIC_QUERY,
                                    "responses": {"200": _json({"type": "object", "required": ["importance", "message"],
                                                                "properties": {
                                                                    "importance": {"type": "object",
                                                                                   "additionalProperties": {
                                                                                       "type": "number"}},
                                                                    "message": {"type": "string"}}},
                                                               "share of each parameter (sums to 1)"),
                                                  **_errors(400)}}},
        },
        "security": [{}, {"token": []}, {"cookie": []}],
    }
