"""GPU assignment on a real CUDA device: what each trial's worker process sees and can use.

These run only where PyTorch sees a CUDA GPU (a developer's GPU machine); elsewhere the GPU bookkeeping is
covered through `CUDA_VISIBLE_DEVICES` by `tests/test_local_executor.py`. Run them with
`python -m pytest tests/gpu -q` on a machine with at least one NVIDIA GPU.
"""
import itertools
from pathlib import Path

import pytest

import tunelab as tune
from tunelab.execution.resource_pool import detect_num_gpus
from tunelab.schedulers import PopulationBasedTraining
from tunelab.trial import Trial

torch = pytest.importorskip("torch")
if detect_num_gpus() < 1 or not torch.cuda.is_available():
    pytest.skip("needs a CUDA GPU visible to PyTorch", allow_module_level=True)

from cuda_trainables import (  # imported only where a GPU is
    CudaRegression,
    device_probe,
    out_of_memory,
)


def _spans_overlap(trials):
    spans = sorted((t.last_result["start"], t.last_result["end"]) for t in trials)
    return any(b[0] < a[1] for a, b in itertools.pairwise(spans))


def test_detects_the_gpus_pytorch_sees():
    assert detect_num_gpus() == torch.cuda.device_count()


def test_whole_gpu_trial_trains_on_its_one_device(fresh_executor):
    tune.init()  # detected: every CPU and GPU of the machine
    [trial] = tune.run(device_probe, resources_per_trial={"cpu": 1, "gpu": 1}, verbose=0).trials
    r = trial.last_result
    assert trial.status == Trial.TERMINATED
    assert r["device_count"] == 1 and r["on_cuda"]
    assert r["cuda_visible"] == "0"
    assert r["final_loss"] < 0.1 * r["first_loss"]  # it really trained on the device


def test_cpu_trial_sees_no_gpu(fresh_executor):
    tune.init()
    [trial] = tune.run(device_probe, resources_per_trial={"cpu": 1, "gpu": 0}, verbose=0).trials
    assert trial.last_result["device_count"] == 0
    assert trial.last_result["cuda_visible"] == ""


def test_half_gpu_trials_share_the_device_at_the_same_time(fresh_executor, tmp_path):
    tune.init(num_cpus=4, num_gpus=1)
    barrier = tmp_path / "barrier"
    barrier.mkdir()
    trials = tune.run(device_probe, config={"n": tune.grid_search([0, 1]), "barrier": str(barrier), "siblings": 2},
                      resources_per_trial={"cpu": 1, "gpu": 0.5}, verbose=0).trials
    assert [t.status for t in trials] == [Trial.TERMINATED] * 2
    assert all(t.last_result["siblings_seen"] == 2 for t in trials)  # both held GPU memory at once
    assert len({t.last_result["device_uuid"] for t in trials}) == 1
    assert all(t.last_result["device_count"] == 1 and t.last_result["held_mb"] == 256 for t in trials)


def test_whole_gpu_trials_take_turns_on_one_gpu(fresh_executor):
    tune.init(num_cpus=4, num_gpus=1)
    trials = tune.run(device_probe, config={"n": tune.grid_search([0, 1, 2]), "sleep": 0.3},
                      resources_per_trial={"cpu": 1, "gpu": 1}, verbose=0).trials
    assert [t.status for t in trials] == [Trial.TERMINATED] * 3
    assert not _spans_overlap(trials)


def test_more_gpus_than_the_machine_has_is_a_clear_error(fresh_executor):
    tune.init()
    too_many = torch.cuda.device_count() + 1
    with pytest.raises(tune.TuneError, match="GPU"):
        tune.run(device_probe, resources_per_trial={"cpu": 1, "gpu": too_many}, verbose=0)


def test_cuda_out_of_memory_is_an_error_trial_and_the_experiment_goes_on(fresh_executor):
    tune.init()
    trials = tune.run(out_of_memory, config={"greedy": tune.grid_search([True, False])},
                      resources_per_trial={"cpu": 1, "gpu": 1}, verbose=0, raise_on_failed_trial=False).trials
    greedy, modest = trials
    assert greedy.status == Trial.ERROR and modest.status == Trial.TERMINATED
    assert greedy.last_result["step"] == 1  # what it reported before the crash is kept
    error_text = Path(greedy.error_file).read_text()
    assert "OutOfMemoryError" in error_text or "out of memory" in error_text


def test_pbt_clones_cuda_checkpoints_between_quarter_gpu_trials(fresh_executor):
    tune.init(num_cpus=4, num_gpus=1)
    pbt = PopulationBasedTraining(
        time_attr="training_iteration", metric="neg_loss", mode="max", perturbation_interval=3,
        hyperparam_mutations={"lr": [0.001, 0.01, 0.05, 0.1]})
    trials = tune.run(CudaRegression, config={"lr": tune.grid_search([0.001, 0.01, 0.05, 0.1]), "step_s": 0.25},
                      stop={"training_iteration": 12}, scheduler=pbt, resources_per_trial={"cpu": 1, "gpu": 0.25},
                      verbose=0).trials
    assert [t.status for t in trials] == [Trial.TERMINATED] * 4
    assert all(t.last_result["training_iteration"] == 12 for t in trials)
    assert any("@perturbed" in t.experiment_tag for t in trials)  # a CUDA checkpoint was cloned and restored
    assert max(t.last_result["neg_loss"] for t in trials) > -0.05
