"""Entry points: `init`, `run_experiments` (seed) and `run` (modern). Wiring only; no logic of their own."""
from __future__ import annotations

import os
import sys
import time
from typing import TYPE_CHECKING, Any

from tunelab import metrics
from tunelab.callback import Callback
from tunelab.controller import Controller
from tunelab.error import TuneError
from tunelab.experiment import Experiment, convert_to_experiment_list
from tunelab.schedulers.trial_scheduler import FIFOScheduler, TrialScheduler
from tunelab.stopper import Stopper
from tunelab.storage.layout import SCRATCH_DIR_ENV
from tunelab.suggest.basic_variant import BasicVariantGenerator
from tunelab.suggest.search import SearchAlgorithm
from tunelab.suggest.searcher import Searcher, to_search_algorithm
from tunelab.suggest.trial_source import TrialSource
from tunelab.trial import Trial
from tunelab.validation import check_number

if TYPE_CHECKING:
    from tunelab.analysis import ExperimentAnalysis
    from tunelab.execution.executor import Executor

EXECUTORS = ("local", "ray")
_executor_args: dict[str, Any] = {}
_executor: Executor | None = None


def init(num_cpus: float | None = None, num_gpus: int | None = None, resources: dict | None = None,
         executor: str | None = None, address: str | None = None, **options: Any) -> None:
    """Set the resources of the embedded executor (default: all detected CPUs and GPUs), or pick the Ray
    executor: `executor="ray"` runs trials as Ray actors, on the cluster at `address` if given, else on a
    Ray instance started on 127.0.0.1 with these resources.

    Optional: without a call, tunelab uses the whole machine. `TUNELAB_EXECUTOR` and `TUNELAB_ADDRESS` pick
    the executor and the cluster without code changes. Other `ray.init` options raise a TuneError saying
    they are not supported (`ignore_reinit_error` is accepted: tunelab.init may always be called again).
    """
    from tunelab.options import INIT_NOT_SUPPORTED, check_options

    check_options("tunelab.init", options, _accepted(init), INIT_NOT_SUPPORTED)
    global _executor
    kind = executor or os.environ.get("TUNELAB_EXECUTOR") or "local"
    if kind not in EXECUTORS:
        raise TuneError(f"executor={kind!r} is not available; allowed: {list(EXECUTORS)}")
    if kind == "ray":
        import importlib.util

        try:
            found = importlib.util.find_spec("ray") is not None
        except (ImportError, ValueError):
            found = False
        if not found:
            raise TuneError("executor='ray' needs Ray, which is not installed: pip install 'tunelab[ray]'")
    check_number("init(num_cpus=...)", num_cpus, minimum=0, allow_none=True)
    check_number("init(num_gpus=...)", num_gpus, minimum=0, integer=True, allow_none=True)
    if resources is not None and not isinstance(resources, dict):
        raise TuneError(f"init(resources=...) must be a dict of name -> amount, got {resources!r}")
    for resource, amount in (resources or {}).items():
        check_number(f"init(resources={{{resource!r}: ...}})", amount, minimum=0)
    if _executor is not None:
        _executor.shutdown()
        _executor = None
    _executor_args.clear()
    _executor_args.update(num_cpus=num_cpus, num_gpus=num_gpus, resources=resources, executor=kind,
                          address=address or os.environ.get("TUNELAB_ADDRESS"))


def shutdown() -> None:
    """Stop the worker processes (they are otherwise kept for the next experiment of this process)."""
    global _executor
    if _executor is not None:
        _executor.shutdown()
        _executor = None


def get_executor() -> Executor:
    """The executor trials run on: made on first use from the `init` settings, then kept for the process."""
    global _executor
    if _executor is None:
        args = dict(_executor_args)
        kind = args.pop("executor", None) or os.environ.get("TUNELAB_EXECUTOR") or "local"
        address = args.pop("address", None) or os.environ.get("TUNELAB_ADDRESS")
        if kind not in EXECUTORS:
            raise TuneError(f"TUNELAB_EXECUTOR={kind!r} is not available; allowed: {list(EXECUTORS)}")
        if kind == "ray":
            from tunelab.execution.ray_executor import RayExecutor

            _executor = RayExecutor(**args, address=address)
        else:
            if address:
                raise TuneError(f"address={address!r} needs executor='ray' (the local executor runs on this machine)")
            from tunelab.execution.local import LocalExecutor

            _executor = LocalExecutor(**args)
        import atexit

        atexit.register(shutdown)
    return _executor


def _default_callbacks(callbacks: list[Callback] | None) -> list[Callback]:
    from tunelab.loggers import default_loggers

    user = list(callbacks or [])
    for cb in user:
        if not isinstance(cb, Callback):
            raise TuneError(f"callbacks must be tunelab.Callback instances, got {cb!r}")
    # a logger the user passes (e.g. with other settings) replaces the default one of its kind: no file
    # is written twice
    defaults = [d for d in default_loggers() if not any(isinstance(cb, type(d)) for cb in user)]
    return defaults + user


def _progress(verbose: int, metric: str | None, mode: str | None, total: int | None) -> tuple[Any, Any]:
    """The console reporter (a callback, for `Result for ...` lines) and the controller's status hook."""
    if not verbose:
        return None, None
    from tunelab.progress import ProgressReporter

    interval = os.environ.get("TUNELAB_STATUS_INTERVAL_S")
    reporter = ProgressReporter(verbose=verbose, metric=metric, mode=mode,
                                print_interval_s=float(interval) if interval else 5.0)

    def print_status(controller: Controller, final: bool) -> None:
        trials = controller.get_trials()
        dirs = sorted({t.local_dir for t in trials if t.local_dir})
        reporter.report(trials, final, {
            "scheduler_debug": controller.scheduler.debug_string(),
            "resources_used": controller.executor.resource_summary(),
            "result_dirs": dirs,
            "storage_problems": controller.storage_problems(),
            "total_trials": total,
            "metric": metric,
            "mode": mode,
        })

    return reporter, print_status


RESUME_MODES = {False: None, None: None, True: "resume", "LOCAL": "resume", "AUTO": "auto",
                "RESUME_ERRORED": "resume_errored", "RESTART_ERRORED": "restart_errored"}


def _resume_mode(resume: Any) -> str | None:
    key = resume.upper() if isinstance(resume, str) else resume
    if key not in RESUME_MODES:
        raise TuneError(f"resume={resume!r} is not a resume mode; allowed: False, True, 'AUTO', "
                        "'RESUME_ERRORED' (also continue errored trials), 'RESTART_ERRORED' (rerun them from scratch)")
    return RESUME_MODES[key]


def check_nodes_share(local_dir: str) -> None:
    """Refuse to run when some node of the executor's cluster does not see `local_dir`: trial folders and
    checkpoints written there on one node could not be read back on another (recovery, pause, PBT)."""
    missing = get_executor().nodes_not_seeing(local_dir)
    if missing:
        nodes = ", ".join(node["address"] + (f" (node {node['node_id'][:8]})" if node.get("node_id") else "")
                          + (f" (works in its own {SCRATCH_DIR_ENV}={node['scratch']})" if node.get("scratch") else "")
                          for node in missing)
        raise TuneError(f"Nodes {nodes} do not see local_dir {local_dir!r} (a file the driver wrote there is not "
                        "there for them, or they run trials in their own scratch folder), so a checkpoint written on "
                        "one node could not be restored on another. Set storage_path=... (a folder every node mounts, "
                        "or s3://bucket/prefix: docs/storage.md), or put local_dir on a filesystem every node mounts "
                        "at the same path.")


def _run_trials(experiments: list[Experiment], search_alg: TrialSource, scheduler: TrialScheduler,
                callbacks: list[Callback] | None, verbose: int, resume: Any = False, stopper: Stopper | None = None,
                max_concurrent_trials: int | None = None, time_budget_s: float | None = None,
                metric: str | None = None, mode: str | None = None, with_server: bool = False,
                server_port: int = 4321, server_host: str | None = None,
                server_token: str | None = None) -> list[Trial]:
    from tunelab.registry import get_trainable
    from tunelab.storage.experiment_state import ExperimentState

    if not with_server and server_port != 4321:
        raise TuneError(f"server_port={server_port!r} needs with_server=True (no server is started without it)")
    if not with_server and (server_host is not None or server_token is not None):
        raise TuneError("server_host / server_token need with_server=True (no server is started without them)")
    for experiment in experiments:  # names may be registered after the spec was built, but not after this
        get_trainable(experiment.trainable_name)
    mode_name = _resume_mode(resume)
    _check_checkpointing(experiments, scheduler)
    for local_dir in sorted({experiment.local_dir for experiment in experiments if experiment.storage is None}):
        check_nodes_share(local_dir)  # without storage, every node writes and reads trials there
    state = ExperimentState(experiments, search_alg, scheduler)
    state.acquire()  # one driver per experiment folder, until this call returns
    try:
        state.check_storage()  # an unwritable storage_path fails now, before any trial starts
        if mode_name is not None:
            state.fetch_from_storage()  # a new machine: the experiment comes back from storage
        resuming = mode_name is not None and state.has_state()
        if mode_name not in (None, "auto") and not resuming:
            paths = ", ".join(e.path for e in experiments)
            raise TuneError(f"resume={resume!r}: no experiment state to resume at {paths}; run without resume "
                            "(or with resume='AUTO') to start it")
        restored = None
        if resuming:
            errored = {"resume_errored": "resume", "restart_errored": "restart"}.get(mode_name or "")
            restored = state.load(errored)
            snapshot = restored[1]
            if snapshot is not None and snapshot.get("search") is not None:
                search_alg.restore_state(snapshot["search"])
        state.start(fresh=not resuming)
        try:  # until controller.run() owns the journal, a failure here must release it for the next run
            total = search_alg.total_samples or None
            reporter, print_status = _progress(verbose, metric, mode, total)
            all_callbacks = _default_callbacks(callbacks) + ([reporter] if reporter is not None else [])
            controller = Controller(
                search_alg, scheduler, get_executor(), all_callbacks, stopper=stopper,
                max_concurrent_trials=max_concurrent_trials, time_budget_s=time_budget_s,
                status_printer=print_status,
                status_interval_s=reporter.refresh_interval_s if reporter is not None else 5.0,
                state=state,
            )
            if restored is not None:
                controller.restore_trials(*restored)
            server = None
            if with_server:
                from tunelab.server import TuneServer

                server = TuneServer(controller, port=server_port, **_server_address(server_host, server_token))
        except BaseException:
            state.close()  # nothing ran: release the journal as controller.run() would have
            raise
        if server is None:
            return _run_interruptible(controller, experiments)
        with server:  # shut down when the experiment ends, errors included
            return _run_interruptible(controller, experiments)
    finally:
        state.release()
        state.finish_storage()  # after an early error too: what was written reaches storage


def _server_address(host: str | None, token: str | None) -> dict[str, Any]:
    """`host` and `token` for the server: the arguments, else $TUNELAB_SERVER_HOST / $TUNELAB_SERVER_TOKEN,
    else loopback without a token."""
    host = host if host is not None else os.environ.get("TUNELAB_SERVER_HOST") or "127.0.0.1"
    token = token if token is not None else os.environ.get("TUNELAB_SERVER_TOKEN") or None
    return {"host": host, "token": token}


def _run_interruptible(controller: Controller, experiments: list[Experiment]) -> list[Trial]:
    """Run; on Ctrl-C say where the (resumable) state is before the KeyboardInterrupt goes on."""
    try:
        return controller.run()
    except BaseException as exc:
        # a worker stopped mid-step may still send messages of its trial: a resume in this process (same
        # trial ids) must not read them, so it gets fresh workers
        shutdown()
        if not isinstance(exc, KeyboardInterrupt):
            raise
        where = ", ".join(e.path for e in experiments) or "the experiment folder"
        print(f"\ntunelab: interrupted. Running trials were stopped; the experiment state is saved in {where}. "
              "Run it again with resume=True to continue.", file=sys.stderr)
        raise


def _check_checkpointing(experiments: list[Experiment], scheduler: TrialScheduler) -> None:
    """Checkpoint options and schedulers that pause or clone trials need trainables that can save: say so
    before anything runs."""
    import inspect

    from tunelab.registry import get_trainable
    from tunelab.trainable.trainable import Trainable

    for experiment in experiments:
        trainable = get_trainable(experiment.trainable_name)
        is_class = inspect.isclass(trainable) and issubclass(trainable, Trainable)
        if not is_class and (experiment.checkpoint_freq or experiment.checkpoint_at_end):
            raise TuneError(
                f"Experiment {experiment.name!r}: checkpoint_freq={experiment.checkpoint_freq!r} / checkpoint_at_end="
                f"{experiment.checkpoint_at_end!r} need a Trainable class (tunelab asks it to save); the function "
                f"{experiment.trainable_name!r} saves by itself: tune.report(..., checkpoint=tune.Checkpoint...)"
            )
        if not is_class or trainable.can_checkpoint():
            continue
        if scheduler.needs_checkpoints:
            raise TuneError(
                f"{type(scheduler).__name__} pauses or clones trials, so it needs trainables that checkpoint, but "
                f"{trainable.__name__} implements neither save_checkpoint/load_checkpoint nor _save/_restore."
            )
        if experiment.checkpoint_freq or experiment.checkpoint_at_end:
            raise TuneError(
                f"Experiment {experiment.name!r}: checkpoint_freq={experiment.checkpoint_freq!r} / checkpoint_at_end="
                f"{experiment.checkpoint_at_end!r} need a trainable that saves, but {trainable.__name__} implements "
                "neither save_checkpoint/load_checkpoint nor _save/_restore."
            )


def _check_failed(trials: list[Trial], raise_on_failed_trial: bool) -> None:
    failed = [t for t in trials if t.status != Trial.TERMINATED]
    if not failed:
        return
    lines = [f"  {t}: {t.status}" + (f" ({t.error_msg}; see {t.error_file})" if t.error_file else "") for t in failed[:20]]
    message = f"{len(failed)} trial(s) did not complete:\n" + "\n".join(lines)
    if raise_on_failed_trial:
        raise TuneError("Trials did not complete: " + ", ".join(str(t) for t in failed[:20]) + "\n" + message)
    print(message, file=sys.stderr)


def run_experiments(experiments: Any = None, search_alg: SearchAlgorithm | Searcher | None = None,
                    scheduler: TrialScheduler | None = None, with_server: bool = False, server_port: int = 4321,
                    verbose: int = 1, raise_on_failed_trial: bool = True, resume: Any = False,
                    callbacks: list[Callback] | None = None, queue_trials: bool = False,
                    trial_executor: Any = None, server_host: str | None = None, server_token: str | None = None,
                    **options: Any) -> list[Trial]:
    """Run `{name: spec}`, an Experiment or a list of them (the seed's entry point); returns the trials."""
    from tunelab.options import check_options

    check_options("run_experiments", dict(options, queue_trials=queue_trials, trial_executor=trial_executor),
                  _accepted(run_experiments))
    _check_run_numbers("run_experiments", verbose=verbose, server_port=server_port)
    experiment_list = convert_to_experiment_list(experiments)
    source = to_search_algorithm(search_alg)
    if experiment_list:
        source.add_configurations(experiment_list)
    else:
        experiment_list = source.added_experiments()
        if not experiment_list and isinstance(source, BasicVariantGenerator):
            raise TuneError("run_experiments needs experiments: pass {name: spec}, an Experiment or a list of them")
    trials = _run_trials(experiment_list, source, scheduler or FIFOScheduler(), callbacks, int(verbose),
                         resume=resume, with_server=with_server, server_port=server_port, server_host=server_host,
                         server_token=server_token)
    _check_failed(trials, raise_on_failed_trial)
    return trials


def _accepted(fn: Any) -> list[str]:
    """The keyword parameters `fn` really takes (not its **options catch-all, nor Ray-only names it refuses)."""
    import inspect

    from tunelab.options import NOT_SUPPORTED

    return [p.name for p in inspect.signature(fn).parameters.values()
            if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD) and p.default is not p.empty
            and p.name not in NOT_SUPPORTED]


#: tune.run keywords that describe the experiment: with an Experiment object they belong in it
_SPEC_OPTIONS = ("name", "config", "stop", "num_samples", "resources_per_trial", "local_dir", "checkpoint_freq",
                 "checkpoint_at_end", "keep_checkpoints_num", "checkpoint_score_attr", "max_failures", "restore",
                 "trial_name_creator", "trial_dirname_creator", "storage_path", "upload_dir")


def _check_no_spec_options(experiment: Experiment, given: dict) -> None:
    """`tune.run(Experiment(...), config=...)` would ignore `config`: refuse spec options set next to one."""
    import inspect

    defaults = {p.name: p.default for p in inspect.signature(run).parameters.values()}
    set_here = [k for k in _SPEC_OPTIONS if given[k] is not defaults[k] and given[k] != defaults[k]]
    if set_here:
        raise TuneError(f"tune.run({experiment!r}, ...): options {', '.join(set_here)} describe the experiment; with an "
                        "Experiment object pass them to Experiment(...) instead")


def _check_run_numbers(call: str, verbose: Any, server_port: Any, max_concurrent_trials: Any = None,
                       time_budget_s: Any = None) -> None:
    """The numeric options of `tune.run` / `run_experiments` that are not part of an Experiment."""
    if not isinstance(verbose, bool):  # the seed's verbose=True/False is fine
        check_number(f"{call}(verbose=...)", verbose, minimum=0, integer=True)
    check_number(f"{call}(server_port=...)", server_port, minimum=0, maximum=65535, integer=True)
    check_number(f"{call}(max_concurrent_trials=...)", max_concurrent_trials, minimum=1, integer=True, allow_none=True)
    check_number(f"{call}(time_budget_s=...)", time_budget_s, above=0, allow_none=True)


def default_experiment_name(trainable_name: str) -> str:
    """The experiment name when none is given: `<trainable>_<date>_<time>`, as Ray Tune names it."""
    return f"{trainable_name}_{time.strftime('%Y-%m-%d_%H-%M-%S')}"


def run(run_or_experiment: Any, *, name: str | None = None, config: dict | None = None, stop: Any = None,
        num_samples: int = 1, metric: str | None = None, mode: str | None = None,
        search_alg: Any = None, scheduler: TrialScheduler | None = None, resources_per_trial: Any = None,
        local_dir: str | None = None, storage_path: str | None = None, upload_dir: str | None = None,
        checkpoint_freq: int = 0,
        checkpoint_at_end: bool = False, keep_checkpoints_num: int | None = None,
        checkpoint_score_attr: str | None = None, max_failures: int = 0, restore: str | None = None,
        resume: Any = False, callbacks: list[Callback] | None = None, verbose: int = 1, with_server: bool = False,
        server_port: int = 4321, server_host: str | None = None, server_token: str | None = None,
        raise_on_failed_trial: bool = True, max_concurrent_trials: int | None = None,
        time_budget_s: float | None = None, trial_name_creator: Any = None, trial_dirname_creator: Any = None,
        **options: Any) -> ExperimentAnalysis:
    """Tune a trainable (the modern single call). Returns an `ExperimentAnalysis`.

    A keyword tunelab does not know, or a Ray option it does not support (remote storage, fail_fast...),
    raises a TuneError naming it (see docs/guide.md, "tune.run options")."""
    from tunelab.analysis import ExperimentAnalysis
    from tunelab.options import check_options

    check_options("tune.run", options, _accepted(run))

    metrics.check_mode(mode)
    _check_run_numbers("tune.run", verbose=verbose, server_port=server_port,
                       max_concurrent_trials=max_concurrent_trials, time_budget_s=time_budget_s)
    if isinstance(run_or_experiment, Experiment):
        _check_no_spec_options(run_or_experiment, locals())
        experiment = run_or_experiment
    else:
        from tunelab.registry import trainable_name_for

        trainable_name = trainable_name_for(run_or_experiment)
        experiment = Experiment(
            name or default_experiment_name(trainable_name), run_or_experiment,
            stop=stop, config=config, resources_per_trial=resources_per_trial, num_samples=num_samples,
            local_dir=local_dir, storage_path=storage_path, upload_dir=upload_dir, checkpoint_freq=checkpoint_freq,
            checkpoint_at_end=checkpoint_at_end, keep_checkpoints_num=keep_checkpoints_num,
            checkpoint_score_attr=checkpoint_score_attr, max_failures=max_failures, restore=restore,
            trial_name_creator=trial_name_creator,
            trial_dirname_creator=trial_dirname_creator,
        )
    search_alg = to_search_algorithm(search_alg)
    search_alg.set_search_properties(metric, mode, experiment.config)
    search_alg.add_configurations([experiment])
    scheduler = scheduler or FIFOScheduler()
    scheduler.set_search_properties(metric, mode)
    stopper = stop if isinstance(stop, Stopper) else None
    trials = _run_trials([experiment], search_alg, scheduler, callbacks, int(verbose), resume=resume,
                         stopper=stopper, max_concurrent_trials=max_concurrent_trials,
                         time_budget_s=time_budget_s, metric=metric, mode=mode, with_server=with_server,
                         server_port=server_port, server_host=server_host, server_token=server_token)
    _check_failed(trials, raise_on_failed_trial)
    return ExperimentAnalysis(trials, default_metric=metric, default_mode=mode)
