"""The Ray executor's view of the cluster's nodes: which are alive, what they hold, which were lost (and
when), and whether the cluster itself can still be reached.

Ray's control store (the GCS, on the head node) declares a node dead only after its health checks fail
several times in a row (about 15 s by default). A trial's actor dying is a faster hint: its node's raylet is
then probed with a TCP connection, and a node whose raylet refuses it (or does not answer) leaves the view at
once when its raylet refuses (a node that does not answer at all is left to Ray's health checks), so no trial
is admitted against the resources of a node that is gone. The head itself is probed the same way before each
refresh: a head that is gone is a lost cluster (`ClusterLost`), not a hang.
"""
from __future__ import annotations

import socket
import time
from dataclasses import dataclass
from typing import Any

from tunelab.error import TuneError

#: the view is refreshed from Ray at least this often (and at once when an actor dies)
REFRESH_S = 2.0
#: how long a TCP probe of a raylet or of the head waits for an answer
PROBE_TIMEOUT_S = 0.5
#: the head counts as lost when it refuses the probe, or when this many probes in a row got no answer
HEAD_SILENT_PROBES = 3
#: Ray's resource names that are not resources a trial can request
_NOT_REQUESTABLE = ("memory", "object_store_memory")


class ClusterLost(TuneError):
    """The driver lost its connection to the Ray cluster (its head node is gone or unreachable)."""


def requestable(resources: dict) -> dict:
    """A node's (or the cluster's) resources a trial can request: CPU, GPU and custom resources (not
    memory, nor Ray's per-node `node:<ip>` and `accelerator_type:` markers)."""
    return {k: v for k, v in resources.items()
            if k not in _NOT_REQUESTABLE and not k.startswith("node:") and not k.startswith("accelerator_type:")}


def probe(host: str, port: int, timeout: float = PROBE_TIMEOUT_S) -> bool | None:
    """Whether a TCP connection to host:port (a raylet's or the head's gRPC server) is accepted (True) or
    refused (False: nothing listens there any more); None when there is no answer in time (a busy or an
    unreachable machine: not proof of anything on its own)."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except TimeoutError:
        return None
    except OSError:
        return False


@dataclass
class Node:
    node_id: str
    address: str
    port: int
    resources: dict
    lost_at: float | None = None  # time.time() when tunelab saw it gone

    @property
    def alive(self) -> bool:
        return self.lost_at is None

    def describe(self) -> str:
        amounts = ", ".join(f"{v:g} {k}" for k, v in sorted(self.resources.items()) if v)
        return f"{self.address} (node {self.node_id[:8]}: {amounts or 'nothing'})"


class ClusterView:
    """Alive and lost nodes, from `ray.nodes()` and from direct probes of suspect nodes."""

    def __init__(self, ray: Any):
        self._ray = ray
        self.nodes: dict[str, Node] = {}
        self._suspects: set[str] = set()  # node ids whose actor died: probe their raylet at the next refresh
        self._next_refresh = 0.0
        self._head_silent = 0
        host, _, port = ray.get_runtime_context().gcs_address.rpartition(":")
        self._head = (host.strip("[]"), int(port))
        self.refresh(force=True)
        for node in self.alive():  # a node lost moments ago is still alive for Ray: look at each once
            self._suspects.add(node.node_id)
        self.refresh(force=True)

    # -- what the executor asks ---------------------------------------------------------------------
    def alive(self) -> list[Node]:
        return [n for n in self.nodes.values() if n.alive]

    def lost(self) -> list[Node]:
        return [n for n in self.nodes.values() if not n.alive]

    def totals(self, nodes: list[Node] | None = None) -> dict:
        """The summed requestable resources of `nodes` (default: the alive ones)."""
        total: dict[str, float] = {}
        for node in self.alive() if nodes is None else nodes:
            for name, amount in node.resources.items():
                total[name] = total.get(name, 0.0) + amount
        return total

    def peak(self) -> dict:
        """What the cluster held at its largest known: alive and lost nodes together (a lost node may come
        back, so a trial that fits only there waits rather than fails)."""
        return self.totals(list(self.nodes.values()))

    def shortfall(self) -> str | None:
        """Why the cluster is smaller than it was (lost nodes whose resources are missing), or None."""
        lost = self.lost()
        now, peak = self.totals(), self.peak()
        if not lost or all(now.get(k, 0.0) + 1e-9 >= v for k, v in peak.items()):
            return None
        when = time.strftime("%H:%M:%S", time.localtime(max(n.lost_at or 0.0 for n in lost)))
        have = ", ".join(f"{now.get(k, 0.0):g}/{v:g} {k}" for k, v in sorted(peak.items()) if now.get(k, 0.0) < v)
        return (f"the Ray cluster lost {len(lost)} node(s) (last at {when}): "
                f"{'; '.join(n.describe() for n in lost)}; it now has {have}. Trials that do not fit wait "
                "PENDING until nodes join (or stop the experiment and continue it later with resume=True)")

    def node_of(self, node_id: str | None) -> Node | None:
        return self.nodes.get(node_id) if node_id else None

    # -- keeping it current -------------------------------------------------------------------------
    def suspect(self, node_id: str | None) -> None:
        """An actor on this node died: probe the node at the next refresh (`due` is now true)."""
        if node_id and node_id in self.nodes and self.nodes[node_id].alive:
            self._suspects.add(node_id)
            self._next_refresh = 0.0

    def due(self) -> bool:
        return time.monotonic() >= self._next_refresh

    def refresh(self, force: bool = False) -> bool:
        """Re-read the nodes from Ray (if due, or `force`); whether the alive set changed. ClusterLost when
        the head cannot be reached."""
        if not force and not self.due():
            return False
        self._next_refresh = time.monotonic() + REFRESH_S
        answer = probe(*self._head)
        self._head_silent = 0 if answer is not None else self._head_silent + 1
        if answer is False or self._head_silent >= HEAD_SILENT_PROBES:
            raise ClusterLost(
                f"Lost the connection to the Ray cluster: its head node at {self._head[0]}:{self._head[1]} does "
                "not answer. Running trials were stopped and the experiment state is saved: once the cluster "
                "is back, run the same experiment again with resume=True to continue it from its checkpoints.")
        before = {n.node_id for n in self.alive()}
        now = time.time()
        for info in self._ray.nodes():
            node_id = info.get("NodeID")
            if not node_id:
                continue
            node = self.nodes.get(node_id)
            if node is None and not info.get("Alive") and not info.get("Resources"):
                continue  # long gone, and Ray no longer says what it held: nothing to wait for
            if node is None:
                node = self.nodes[node_id] = Node(node_id, info.get("NodeManagerAddress", "?"),
                                                  int(info.get("NodeManagerPort") or 0),
                                                  requestable(info.get("Resources") or {}))
            if not info.get("Alive"):
                if node.alive:
                    node.lost_at = now
            elif info.get("Resources"):
                node.resources = requestable(info["Resources"])
        for node_id in list(self._suspects):  # Ray may not have noticed yet: ask the raylet itself
            node = self.nodes[node_id]
            if node.alive and node.port and probe(node.address, node.port) is False:
                node.lost_at = now
            self._suspects.discard(node_id)
        return before != {n.node_id for n in self.alive()}
