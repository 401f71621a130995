"""The pieces of the Ray executor's node tracking that need no cluster: a pool whose totals follow the alive
nodes, the TCP probe of a raylet or head (real sockets on 127.0.0.1), and which of a node's resources a trial
can request. The behaviour on a real two-node cluster is in tests/test_ray_multinode.py."""
import socket

from tunelab.execution.ray_nodes import probe, requestable
from tunelab.execution.resource_pool import ResourcePool
from tunelab.resources import Resources


def test_a_pool_shrinks_and_grows_with_the_cluster_and_keeps_what_trials_hold():
    pool = ResourcePool(4, 2, {"node_b": 2})
    trial = Resources(cpu=2, gpu=1, custom_resources={"node_b": 1})
    gpu_ids = pool.acquire(trial)
    pool.set_totals(1, 1, {})  # a node with 3 CPUs, a GPU and both node_b left
    assert pool.total_cpu == 1 and pool.total_gpu == 1 and pool.gpu_ids == gpu_ids  # the used GPU stayed
    assert not pool.fits(Resources(cpu=1))  # still held by the running trial: 2 of 1 CPU used
    assert not pool.fits(Resources(cpu=0, custom_resources={"node_b": 1}))
    assert "2/1 CPUs" in pool.summary()
    pool.release(trial, gpu_ids)
    assert pool.fits(Resources(cpu=1, gpu=1))
    pool.set_totals(3, 3, {"node_b": 2})  # a node joined
    assert pool.fits(Resources(cpu=3, gpu=3, custom_resources={"node_b": 2}))
    assert len(set(pool.gpu_ids)) == 3


def test_a_pool_releases_a_gpu_that_left_with_its_node():
    pool = ResourcePool(2, 2)
    trial = Resources(cpu=1, gpu=2)
    gpu_ids = pool.acquire(trial)
    pool.set_totals(2, 1, {})
    pool.release(trial, gpu_ids)  # one of its GPUs is gone: no error, the other is free again
    assert pool.used_cpu == 0 and pool.gpu_free == [1.0]


def test_probe_tells_a_listener_from_a_closed_port():
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        port = server.getsockname()[1]
        assert probe("127.0.0.1", port) is True
    assert probe("127.0.0.1", port) is False  # nothing listens there any more: refused


def test_only_requestable_resources_count():
    node = {"CPU": 2.0, "GPU": 1.0, "node_b": 1.0, "memory": 1e9, "object_store_memory": 1e8,
            "node:192.0.2.2": 1.0, "node:__internal_head__": 1.0, "accelerator_type:A100": 1.0}
    assert requestable(node) == {"CPU": 2.0, "GPU": 1.0, "node_b": 1.0}
