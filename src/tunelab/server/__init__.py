"""The REST server of a running experiment (`TuneServer`) and its client (`TuneClient`)."""
from tunelab.server.client import TuneClient
from tunelab.server.rest import TuneServer

__all__ = ["TuneClient", "TuneServer"]
