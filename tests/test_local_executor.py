"""The embedded executor with real worker processes: resources, GPU ids, thread pools, crashes."""
import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

import tunelab as tune
from tunelab import run_experiments
from tunelab.trial import Trial


def _env_probe(config, reporter):
    import os
    import time

    start = time.time()
    time.sleep(config.get("sleep", 0.3))
    reporter(cuda=os.environ.get("CUDA_VISIBLE_DEVICES"), omp=os.environ.get("OMP_NUM_THREADS"),
             mkl=os.environ.get("MKL_NUM_THREADS"), start=start, end=time.time(), done=True)


def _overlaps(trials):
    spans = sorted((t.last_result["start"], t.last_result["end"]) for t in trials)
    return any(b[0] < a[1] for a, b in zip(spans, spans[1:]))


def test_gpu_ids_and_threads(fresh_executor):
    tune.init(num_cpus=4, num_gpus=2)
    trials = run_experiments({"g": {"run": _env_probe, "config": {"n": tune.grid_search([0, 1])},
                                    "resources_per_trial": {"cpu": 2, "gpu": 1}}}, verbose=0)
    assert sorted(t.last_result["cuda"] for t in trials) == ["0", "1"]
    assert all(t.last_result["omp"] == "2" and t.last_result["mkl"] == "2" for t in trials)
    [cpu_only] = run_experiments({"c": {"run": _env_probe}}, verbose=0)
    assert cpu_only.last_result["cuda"] == ""
    assert cpu_only.last_result["omp"] == "1"


def test_fractional_gpus_share_one_device(fresh_executor):
    tune.init(num_cpus=4, num_gpus=1)
    trials = run_experiments({"f": {"run": _env_probe, "config": {"n": tune.grid_search([0, 1, 2, 3]), "sleep": 0.6},
                                    "resources_per_trial": {"cpu": 1, "gpu": 0.5}}}, verbose=0)
    assert all(t.last_result["cuda"] == "0" for t in trials)
    # two at a time fit on the one GPU: the first two overlap, and no three ever run together
    starts = sorted(t.last_result["start"] for t in trials)
    ends = sorted(t.last_result["end"] for t in trials)
    assert starts[1] < ends[0]
    assert starts[2] >= ends[0] - 0.05


def test_resource_gating_runs_gpu_trials_one_at_a_time(fresh_executor):
    tune.init(num_cpus=4, num_gpus=1)
    trials = run_experiments({"r": {"run": _env_probe, "config": {"n": tune.grid_search([0, 1])},
                                    "resources_per_trial": {"cpu": 1, "gpu": 1}}}, verbose=0)
    assert [t.status for t in trials] == [Trial.TERMINATED] * 2
    assert not _overlaps(trials)


def test_extra_resources_count_against_capacity(fresh_executor):
    tune.init(num_cpus=4, num_gpus=2)
    trials = run_experiments({"e": {"run": _env_probe, "config": {"n": tune.grid_search([0, 1])},
                                    "resources_per_trial": {"cpu": 1, "gpu": 0, "extra_cpu": 3, "extra_gpu": 1}}},
                             verbose=0)
    assert not _overlaps(trials)
    assert all(t.last_result["omp"] == "4" for t in trials)


def test_custom_resources(fresh_executor):
    tune.init(num_cpus=4, resources={"license": 1})
    trials = run_experiments({"c": {"run": _env_probe, "config": {"n": tune.grid_search([0, 1])},
                                    "resources_per_trial": {"cpu": 1, "custom_resources": {"license": 1}}}},
                             verbose=0)
    assert not _overlaps(trials)
    with pytest.raises(tune.TuneError, match="license"):
        run_experiments({"c": {"run": _env_probe,
                               "resources_per_trial": {"cpu": 1, "custom_resources": {"license": 2}}}}, verbose=0)


def test_parallel_trials_overlap_on_two_cpus(fresh_executor):
    tune.init(num_cpus=2)
    trials = run_experiments({"p": {"run": _env_probe, "config": {"n": tune.grid_search([0, 1]), "sleep": 1.0}}},
                             verbose=0)
    assert _overlaps(trials)
    assert len({t.last_result["pid"] for t in trials}) == 2


def test_workers_are_reused_across_trials(fresh_executor):
    tune.init(num_cpus=1)

    def quick(config, reporter):
        reporter(x=1)

    trials = run_experiments({"w": {"run": quick, "num_samples": 5}}, verbose=0)
    assert len({t.last_result["pid"] for t in trials}) == 1


def _suicide(config, reporter):
    import os
    import signal

    reporter(step=1)
    if config["kill"]:
        os.kill(os.getpid(), signal.SIGKILL)
    reporter(step=2)


def test_sigkilled_worker_is_a_trial_error_not_a_hang():
    start = time.time()
    trials = run_experiments({"k": {"run": _suicide, "config": {"kill": tune.grid_search([True, False])},
                                    "max_failures": 0}}, verbose=0, raise_on_failed_trial=False)
    assert time.time() - start < 30
    assert [t.status for t in trials] == [Trial.ERROR, Trial.TERMINATED]
    text = open(trials[0].error_file).read()
    assert "SIGKILL" in text
    assert trials[0].last_result["step"] == 1  # what was reported before the kill is kept
    assert trials[1].last_result["step"] == 2


def test_script_without_main_guard_runs(tmp_path):
    script = tmp_path / "quickstart.py"
    script.write_text(textwrap.dedent(f"""
        import tunelab as tune

        class Helper:
            factor = 3

        def train_func(config, reporter):
            for i in range(3):
                reporter(timesteps_total=i, mean_accuracy=config["lr"] * Helper.factor)

        tune.register_trainable("train_func", train_func)
        trials = tune.run_experiments({{
            "my_experiment": {{
                "run": "train_func",
                "local_dir": {str(tmp_path / "out")!r},
                "config": {{"lr": tune.grid_search([1, 2])}},
            }}
        }})
        print("ACCS", [t.last_result["mean_accuracy"] for t in trials])
    """))
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "ACCS [3, 6]" in out.stdout
    assert "== Status ==" in out.stdout


def test_report_api_with_dict_and_stoppers():
    def train(config):
        for i in range(100):
            tune.report({"score": i}, extra=i * 2)

    analysis = tune.run(train, stop=lambda trial_id, result: result["score"] >= 4, verbose=0)
    [trial] = analysis.trials
    assert trial.last_result["score"] == 4 and trial.last_result["extra"] == 8

    class AtThree(tune.Stopper):
        def __call__(self, trial_id, result):
            return result["training_iteration"] >= 3

    analysis = tune.run(train, stop=AtThree(), verbose=0)
    assert analysis.trials[0].last_result["training_iteration"] == 3


def test_run_returns_analysis_with_best():
    def train(config):
        tune.report(loss=(config["x"] - 2) ** 2)

    analysis = tune.run(train, config={"x": tune.grid_search([0, 1, 2, 3])}, metric="loss", mode="min", verbose=0)
    assert analysis.best_config == {"x": 2}
    assert analysis.best_result["loss"] == 0
    assert analysis.get_best_trial("loss", "max").config == {"x": 0}


def test_progress_csv_survives_new_keys():
    def train(config, reporter):
        reporter(a=1)
        reporter(a=2, b=3)

    [trial] = run_experiments({"csv": {"run": train}}, verbose=0)
    import csv

    rows = list(csv.DictReader(open(os.path.join(trial.logdir, "progress.csv"))))
    assert [r["a"] for r in rows] == ["1", "2"] and rows[1]["b"] == "3"
    results = [json.loads(line) for line in open(os.path.join(trial.logdir, "result.json"))]
    assert [r["a"] for r in results] == [1, 2]
    params = json.load(open(os.path.join(trial.logdir, "params.json")))
    assert params == {}


def test_import_is_light():
    code = ("import time; t=time.time(); import tunelab, sys; dt=time.time()-t; "
            "heavy=[m for m in ('pandas','torch','hyperopt','optuna','ray','tensorboardX') if m in sys.modules]; "
            "print(heavy, dt)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    heavy, _ = out.stdout.rsplit(" ", 1)
    assert heavy == "[]", out.stdout


def test_gpu_detection_falls_back_to_nvidia_smi(tmp_path, monkeypatch):
    """Where the driver's /proc folder is hidden (some VMs), the GPUs that `nvidia-smi -L` lists count."""
    from tunelab.execution import resource_pool as resources

    if os.path.isdir("/proc/driver/nvidia/gpus"):
        pytest.skip("this machine has the driver's /proc folder: the fallback is not reached")
    tool = tmp_path / "nvidia-smi"
    tool.write_text("#!/bin/sh\necho 'GPU 0: NVIDIA H200 (UUID: GPU-a)'\necho 'GPU 1: NVIDIA H200 (UUID: GPU-b)'\n")
    tool.chmod(0o755)
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))
    assert resources.detect_num_gpus() == 2
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0")
    assert resources.detect_num_gpus() == 1
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES")
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    assert resources.detect_num_gpus() == 0
