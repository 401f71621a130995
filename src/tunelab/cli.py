"""The `tunelab` command: run an experiment from a spec file, and look at results on disk.

    tunelab run SPEC.yaml [--scheduler ASHA] [--search hyperopt] [--metric M --mode max]
    tunelab ls [RESULTS_DIR]           experiments, trial counts by status, best metric value
    tunelab show EXPERIMENT_DIR        the `== Status ==` table of an experiment
    tunelab plot EXPERIMENT_DIR        parallel coordinates, learning curves, best-so-far as HTML

Exit codes: 0 success, 1 some trials failed (or a requested PNG could not be written), 2 bad input.
User errors print one line `tunelab: error: ...` on stderr, never a traceback. Results are read with
`ExperimentAnalysis` and shown with `progress.status_text`, as the Python API does.
"""
from __future__ import annotations

import argparse
import importlib
import importlib.util
import json
import os
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from tunelab._version import __version__
from tunelab.error import TuneError
from tunelab.metrics import MODES
from tunelab.result_keys import EPISODE_REWARD_MEAN, MEAN_ACCURACY, MEAN_LOSS

if TYPE_CHECKING:
    from tunelab.analysis import ExperimentAnalysis
    from tunelab.experiment import Experiment

__all__ = ["main", "load_spec", "convert_config", "guess_metric", "build_parser"]

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2

#: the seed's metrics, tried in this order when no --metric is given, with their direction
SEED_METRICS = ((MEAN_ACCURACY, "max"), (MEAN_LOSS, "min"), (EPISODE_REWARD_MEAN, "max"))

#: `{"<name>": [args...]}` or `{"<name>": {kwargs}}` in a spec's config becomes `tunelab.<name>(...)`
DOMAIN_FORMS = (
    "uniform", "quniform", "loguniform", "qloguniform", "randn", "qrandn",
    "randint", "qrandint", "lograndint", "qlograndint", "choice",
)

SCHEDULERS = {
    "FIFO": "FIFOScheduler",
    "MedianStopping": "MedianStoppingRule",
    "HyperBand": "HyperBandScheduler",
    "AsyncHyperBand": "AsyncHyperBandScheduler",
    "ASHA": "ASHAScheduler",
    "PBT": "PopulationBasedTraining",
}
SEARCHERS = {"random": "BasicVariantGenerator", "hyperopt": "HyperOptSearch", "optuna": "OptunaSearch"}


class UsageError(TuneError):
    """Bad input found by the CLI itself: a spec file, a trainable reference or an option."""


# -- spec files --------------------------------------------------------------------------------------
def load_spec(path: str) -> dict[str, dict]:
    """Read a `.yaml`/`.yml`/`.json` file holding `{experiment name: spec}` and check its shape."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f"spec file not found: {path}")
    with open(path, encoding="utf-8") as f:
        text = f.read()
    ext = os.path.splitext(path)[1].lower()
    if ext == ".json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise UsageError(f"{path}: invalid JSON: {exc}") from None
    elif ext in (".yaml", ".yml"):
        import yaml

        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise UsageError(f"{path}: invalid YAML{_yaml_where(exc)}") from None
    else:
        raise UsageError(f"{path}: unknown spec file type {ext!r}; allowed: .yaml, .yml, .json")
    if not isinstance(data, dict) or not data:
        raise UsageError(f"{path}: expected a mapping {{experiment name: {{run: ..., config: ..., stop: ...}}}}, "
                         f"got {type(data).__name__ if data is not None else 'an empty file'}")
    for name, spec in data.items():
        if not isinstance(spec, dict):
            raise UsageError(f"{path}: experiment {name!r} must be a mapping with a 'run' key, got {spec!r}")
    return data


def _yaml_where(exc: Any) -> str:
    """` at line L, column C: <problem>` from a PyYAML error, or its text when it has no position."""
    mark, problem = getattr(exc, "problem_mark", None), getattr(exc, "problem", None)
    if mark is not None and problem:
        return f" at line {mark.line + 1}, column {mark.column + 1}: {problem}"
    return ": " + " ".join(str(exc).split())


def _number_arg(value: Any) -> Any:
    """A domain bound written `1e-4` in YAML (which YAML 1.1 reads as a string) as the float it means."""
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return value
    return value


def _make_domain(form: str, args: Any, where: str) -> Any:
    import tunelab

    factory = getattr(tunelab, form)
    try:
        if form == "choice" and isinstance(args, list):
            return factory(convert_config(args, where))
        if isinstance(args, list):
            return factory(*map(_number_arg, args))
        if isinstance(args, dict):
            return factory(**{k: _number_arg(v) for k, v in args.items()})
    except (TypeError, ValueError) as exc:
        raise UsageError(f"config {where}: {{{form}: {args!r}}} is not valid: {exc}") from None
    raise UsageError(f"config {where}: {{{form}: ...}} needs a list of arguments or a mapping of keyword "
                     f"arguments, got {args!r}")


def convert_config(value: Any, where: str = "") -> Any:
    """Turn the file forms `{"uniform": [0, 1]}`, `{"choice": [...]}`, ... into tunelab domains.

    `{"grid_search": [...]}` and `{"eval": "..."}` are the seed's own JSON forms and stay as they are.
    """
    if isinstance(value, dict):
        if len(value) == 1:
            key = next(iter(value))
            if key in DOMAIN_FORMS:
                return _make_domain(key, value[key], where or "/")
            if key in ("grid_search", "eval"):
                return value
        return {k: convert_config(v, f"{where}/{k}") for k, v in value.items()}
    if isinstance(value, list):
        return [convert_config(v, f"{where}/{i}") for i, v in enumerate(value)]
    return value


def _load_module_from_file(path: str, base_dirs: Sequence[str]) -> Any:
    """Execute a `.py` file as a module that is *not* in `sys.modules`, so cloudpickle ships its
    functions to the workers by value."""
    candidates = [path] if os.path.isabs(path) else [os.path.join(d, path) for d in base_dirs]
    found = next((c for c in candidates if os.path.isfile(c)), None)
    if found is None:
        raise FileNotFoundError(f"trainable file not found: {path} (looked in {', '.join(base_dirs)})")
    name = "_tunelab_cli_" + os.path.splitext(os.path.basename(found))[0]
    spec = importlib.util.spec_from_file_location(name, found)
    if spec is None or spec.loader is None:
        raise ImportError(f"{found} is not a Python file (expected a .py file)")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _import_module(name: str, base_dirs: Sequence[str]) -> Any:
    """Import `name` with `base_dirs` on the path; its functions are shipped to workers by value,
    since a worker may not have those folders on its path."""
    import cloudpickle

    for d in reversed(base_dirs):
        if d not in sys.path:
            sys.path.insert(0, d)
    module = importlib.import_module(name)
    cloudpickle.register_pickle_by_value(module)
    return module


def resolve_trainable(run: Any, base_dirs: Sequence[str]) -> Any:
    """`run` from a spec: a registered name is kept; `module:function` or `path/to/file.py:function`
    is imported and returned (the Experiment registers it under its name)."""
    if not isinstance(run, str):
        raise UsageError(f"'run' must be a string naming a trainable, got {run!r}")
    if ":" not in run:
        from tunelab.registry import has_trainable

        if not has_trainable(run):
            raise UsageError(f"unknown trainable {run!r}: name it as 'module:function' or "
                             f"'path/to/file.py:function'")
        return run
    target, attr = run.rsplit(":", 1)
    try:
        if target.endswith(".py") or os.sep in target or "/" in target:
            module = _load_module_from_file(target, base_dirs)
        else:
            module = _import_module(target, base_dirs)
    except (FileNotFoundError, ImportError) as exc:
        raise UsageError(f"cannot load trainable {run!r}: {exc}") from None
    except Exception as exc:  # the user's module failed while importing
        raise UsageError(f"cannot load trainable {run!r}: importing it raised {type(exc).__name__}: {exc}") from None
    if not hasattr(module, attr):
        raise UsageError(f"cannot load trainable {run!r}: {target} has no attribute {attr!r}")
    return getattr(module, attr)


def build_experiments(path: str, local_dir: str | None = None) -> list[Experiment]:
    """The Experiments of a spec file: trainables imported, config forms converted, keys validated."""
    from tunelab.experiment import Experiment

    base_dirs = list(dict.fromkeys([os.getcwd(), os.path.dirname(os.path.abspath(path))]))
    experiments = []
    for name, raw in load_spec(path).items():
        spec = dict(raw)
        if "run" in spec:
            spec["run"] = resolve_trainable(spec["run"], base_dirs)
        if "config" in spec:
            spec["config"] = convert_config(spec["config"])
        if local_dir:
            spec["local_dir"] = local_dir
        experiments.append(Experiment.from_json(str(name), spec))
    return experiments


# -- schedulers and searchers ------------------------------------------------------------------------
def _parse_kv(items: Sequence[str] | None, flag: str) -> dict[str, Any]:
    """`key=value` pairs; values are read as YAML (`3`, `0.5`, `true`, `[1, 2]`, `{lr: [0.1, 0.2]}`)."""
    import yaml

    out: dict[str, Any] = {}
    for item in items or ():
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise UsageError(f"{flag} expects KEY=VALUE, got {item!r}")
        try:
            out[key] = yaml.safe_load(raw)
        except yaml.YAMLError:
            out[key] = raw
    return out


def make_scheduler(name: str, kwargs: dict[str, Any], experiment: Experiment) -> Any:
    """A fresh scheduler by its CLI name. PBT without `hyperparam_mutations` mutates the config's
    search-space domains."""
    import tunelab.schedulers as schedulers
    from tunelab.suggest.domains import Domain

    cls = getattr(schedulers, SCHEDULERS[name])
    kwargs = dict(kwargs)
    if name == "PBT" and "hyperparam_mutations" not in kwargs and "custom_explore_fn" not in kwargs:
        kwargs["hyperparam_mutations"] = {k: v for k, v in experiment.config.items() if isinstance(v, Domain)}
    try:
        return cls(**kwargs)
    except TypeError as exc:
        raise UsageError(f"--scheduler {name}: {exc}") from None


def make_search(name: str, kwargs: dict[str, Any]) -> Any:
    """A fresh search algorithm by its CLI name (metric and mode come from `tunelab.run`)."""
    import tunelab.suggest as suggest

    cls = getattr(suggest, SEARCHERS[name])
    try:
        return cls(**kwargs)
    except TypeError as exc:
        raise UsageError(f"--search {name}: {exc}") from None


# -- metric / mode -----------------------------------------------------------------------------------
def guess_metric(trials: Sequence[Any]) -> tuple[str, str] | None:
    """The first of the seed's metrics (mean_accuracy, mean_loss, episode_reward_mean) any trial
    reported, with its direction; None if none did."""
    for metric, mode in SEED_METRICS:
        if any(metric in (t.last_result or {}) for t in trials):
            return metric, mode
    return None


def _metric_mode(
    metric: str | None, mode: str | None, trials: Sequence[Any] | None = None
) -> tuple[str | None, str | None]:
    """Fill a missing mode for a seed metric; guess both from `trials` when neither is given."""
    if metric is None:
        if mode is not None:
            raise UsageError("--mode needs --metric")
        guessed = guess_metric(trials) if trials is not None else None
        return guessed if guessed else (None, None)
    if mode is None:
        mode = dict(SEED_METRICS).get(metric)
        if mode is None:
            raise UsageError(f"--metric {metric} needs --mode min or --mode max")
    return metric, mode


# -- commands ----------------------------------------------------------------------------------------
def cmd_run(args: argparse.Namespace) -> int:
    import tunelab
    from tunelab.progress import best_trial_line, trial_counts
    from tunelab.trial import Trial

    metric, mode = _metric_mode(args.metric, args.mode)
    if args.search in ("hyperopt", "optuna") and metric is None:
        raise UsageError(f"--search {args.search} needs --metric (and --mode)")
    scheduler_kwargs = _parse_kv(args.scheduler_arg, "--scheduler-arg")
    search_kwargs = _parse_kv(args.search_arg, "--search-arg")
    experiments = build_experiments(args.spec, args.local_dir)
    if args.num_cpus is not None:
        tunelab.init(num_cpus=args.num_cpus)
    all_ok = True
    for experiment in experiments:  # one after another, each with its own scheduler and searcher
        analysis = tunelab.run(
            experiment, metric=metric, mode=mode, verbose=args.verbose, raise_on_failed_trial=False,
            scheduler=make_scheduler(args.scheduler, scheduler_kwargs, experiment),
            search_alg=make_search(args.search, search_kwargs),
        )
        trials = analysis.trials
        print(f"Experiment {experiment.name}: trials {trial_counts(trials)}; results in {experiment.path}")
        if metric and mode:
            print(best_trial_line(trials, metric, mode) or f"No trial reported {metric}.")
            best = analysis.get_best_trial(metric, mode)
            if best is not None:
                print(f"Best config: {json.dumps(best.config, sort_keys=True, default=str)}")
        all_ok = all_ok and all(t.status == Trial.TERMINATED for t in trials)
    return EXIT_OK if all_ok else EXIT_FAILED


def default_results_dir() -> str:
    """`$TUNELAB_RESULTS_DIR`, else `~/tunelab_results` (where experiments are written by default)."""
    from tunelab.experiment import default_local_dir

    return os.path.abspath(os.path.expanduser(default_local_dir()))


def _experiment_dir(arg: str, follow: bool = False) -> str:
    """A folder path, an experiment name under the default results folder, or an experiment in storage
    (`s3://bucket/prefix/<name>`, any storage_path URI): copied into a temporary folder (and, with `follow`,
    kept up to date while the command runs)."""
    from tunelab.storage.remote import is_uri

    if is_uri(arg):
        return _mirror(arg, follow)
    path = os.path.abspath(os.path.expanduser(arg))
    if os.path.isdir(path):
        return path
    if os.path.isabs(os.path.expanduser(arg)):
        raise FileNotFoundError(f"no experiment folder at {path}")
    named = os.path.join(default_results_dir(), arg)
    if os.path.isdir(named):
        return named
    raise FileNotFoundError(f"no experiment folder at {path} (nor {named})")


def _mirror(uri: str, follow: bool) -> str:
    """A local copy of the experiment at `uri` in storage (its results, not its checkpoints)."""
    import atexit
    import shutil
    import tempfile

    from tunelab.error import TuneError
    from tunelab.storage.remote import Storage
    from tunelab.storage.sync import StorageMirror

    name = uri.rstrip("/").rpartition("/")[2] or "experiment"
    local = os.path.join(tempfile.mkdtemp(prefix="tunelab_storage_"), name)
    atexit.register(shutil.rmtree, os.path.dirname(local), True)
    mirror = StorageMirror(Storage(uri), local)
    try:
        copied = mirror.refresh()
    except TuneError as exc:
        raise UsageError(f"{uri}: {exc}") from None
    if not copied:
        raise UsageError(f"{uri}: no experiment in storage there (no files)")
    if follow:
        mirror.start()
    return local


def _load(path: str) -> ExperimentAnalysis:
    """The analysis of an experiment folder; a folder without trials is an error."""
    from tunelab.analysis import ExperimentAnalysis

    analysis = ExperimentAnalysis(path)
    if not analysis.trials:
        raise UsageError(f"no trial folders (params.json / result.json) under {path}")
    return analysis


def _is_trial_dir(path: str) -> bool:
    """A folder the loggers wrote for one trial (so its parent is an experiment folder)."""
    from tunelab.storage.layout import TRIAL_FILES

    return any(os.path.isfile(os.path.join(path, n)) for n in TRIAL_FILES)


def _best_cell(analysis: ExperimentAnalysis, metric: str | None, mode: str | None) -> str:
    from tunelab.analysis import metric_number

    metric, mode = _metric_mode(metric, mode, analysis.trials)
    if metric is None or mode is None:
        return "-"
    best = analysis.get_best_trial(metric, mode)
    value = metric_number(best.last_result, metric) if best is not None else None
    return f"{metric}={value:.6g} ({mode})" if value is not None else f"{metric}: none ({mode})"


def cmd_ls(args: argparse.Namespace) -> int:
    from tunelab.analysis import ExperimentAnalysis
    from tunelab.progress import trial_counts
    from tunelab.trial_naming import natural_key

    root = os.path.abspath(os.path.expanduser(args.results_dir or default_results_dir()))
    if not os.path.isdir(root):
        raise FileNotFoundError(f"no results folder at {root}")
    children = sorted((e for e in os.scandir(root) if e.is_dir()), key=lambda e: natural_key(e.name))
    if any(_is_trial_dir(e.path) for e in children):  # pointed at one experiment: list just that one
        folders = [(os.path.basename(root), root)]
    else:
        folders = [(e.name, e.path) for e in children]
    rows = []
    for name, path in folders:
        analysis = ExperimentAnalysis(path)
        if analysis.trials:
            rows.append((name, trial_counts(analysis.trials), _best_cell(analysis, args.metric, args.mode)))
    if not rows:
        print(f"No experiments in {root}")
        return EXIT_OK
    print(f"Experiments in {root}:")
    header = ("EXPERIMENT", "TRIALS", "BEST")
    widths = [max(len(r[i]) for r in (header, *rows)) for i in range(2)]
    for row in (header, *rows):
        print(f"{row[0]:<{widths[0]}}  {row[1]:<{widths[1]}}  {row[2]}")
    return EXIT_OK


def cmd_show(args: argparse.Namespace) -> int:
    from tunelab.progress import best_trial_line, status_text

    path = _experiment_dir(args.experiment_dir)
    analysis = _load(path)
    print(status_text(analysis.trials, "", "", [path], args.max_trials))
    metric, mode = _metric_mode(args.metric, args.mode, analysis.trials)
    if metric and mode:
        print(best_trial_line(analysis.trials, metric, mode) or f"No trial reported {metric}.")
    return EXIT_OK


def cmd_plot(args: argparse.Namespace) -> int:
    from tunelab import plot

    path = _experiment_dir(args.experiment_dir)
    analysis = _load(path)
    metric, mode = _metric_mode(args.metric, args.mode, analysis.trials)
    if metric is None or mode is None:
        raise UsageError("no --metric given and none of mean_accuracy, mean_loss, episode_reward_mean was "
                         "reported: pass --metric M --mode min|max")
    out_dir = os.path.abspath(os.path.expanduser(args.out or os.path.join(path, "plots")))
    for file in plot.plot_experiment(analysis, metric, mode, out_dir, formats=("html",)):
        print(f"wrote {file}")
    if args.png:  # the HTML files are written either way; a missing PNG exporter only fails --png
        try:
            written = plot.plot_experiment(analysis, metric, mode, out_dir, formats=("png",))
        except TuneError as exc:
            print(f"tunelab: error: {exc}", file=sys.stderr)
            return EXIT_FAILED
        for file in written:
            print(f"wrote {file}")
    return EXIT_OK


def cmd_dashboard(args: argparse.Namespace) -> int:
    """Serve the dashboard of an experiment folder, read-only, until interrupted."""
    import time

    from tunelab.server import TuneServer

    path = _experiment_dir(args.experiment_dir, follow=True)
    _load(path)  # a folder without trials is an error now, not an empty page
    token = args.token or os.environ.get("TUNELAB_SERVER_TOKEN") or None
    server = TuneServer.for_folder(path, port=args.port, host=args.host, token=token)
    where = f"http://{server.address}/" + ("?token=<your token>" if token else "")
    print(f"tunelab dashboard: {path} (read-only, from its files) at {where}  (Ctrl-C to stop)", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        return EXIT_OK
    finally:
        server.shutdown()


# -- the parser --------------------------------------------------------------------------------------
def _add_metric_args(parser: argparse.ArgumentParser, what: str) -> None:
    parser.add_argument("--metric", help=f"result key to {what} (default: the first of mean_accuracy, mean_loss, "
                                         "episode_reward_mean that was reported)")
    parser.add_argument("--mode", choices=MODES,
                        help="whether lower or higher is better (default: max for accuracy/reward, min for loss)")


def build_parser() -> argparse.ArgumentParser:
    """The argparse parser of the `tunelab` command and its subcommands."""
    parser = argparse.ArgumentParser(
        prog="tunelab", description="Run hyperparameter tuning experiments and look at their results.",
        epilog="Exit codes: 0 ok, 1 some trials failed, 2 bad input. See docs/cli.md.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    run = sub.add_parser(
        "run", help="run the experiments of a YAML/JSON spec file",
        description="Run the experiments of a spec file {name: {run: ..., config: ..., stop: ...}}. 'run' is "
                    "'module:function', 'path/to/file.py:function' or a registered name; config values may use "
                    "{grid_search: [...]}, {eval: '...'}, {uniform: [lo, hi]}, {loguniform: [lo, hi]}, "
                    "{choice: [...]}, {randint: [lo, hi]} and the other tunelab domains.",
        epilog="Example: tunelab run exp.yaml --scheduler ASHA --scheduler-arg max_t=20 --metric mean_loss",
    )
    run.add_argument("spec", metavar="SPEC", help="experiment spec file (.yaml, .yml or .json)")
    run.add_argument("--scheduler", choices=list(SCHEDULERS), default="FIFO", help="trial scheduler (default: FIFO)")
    run.add_argument("--scheduler-arg", action="append", metavar="KEY=VALUE",
                     help="keyword argument for the scheduler, value read as YAML (repeatable), e.g. grace_period=2")
    run.add_argument("--search", choices=list(SEARCHERS), default="random",
                     help="search algorithm (default: random/grid variants; hyperopt and optuna need --metric)")
    run.add_argument("--search-arg", action="append", metavar="KEY=VALUE",
                     help="keyword argument for the search algorithm, value read as YAML (repeatable)")
    run.add_argument("--metric", help="result key to optimise; also prints the best trial at the end")
    run.add_argument("--mode", choices=MODES,
                     help="min or max (default for the seed metrics: max accuracy/reward, min loss)")
    run.add_argument("--local-dir", metavar="D",
                     help="results folder (default: $TUNELAB_RESULTS_DIR or ~/tunelab_results)")
    run.add_argument("--num-cpus", type=float, metavar="N", help="CPUs the local executor may use (default: all)")
    run.add_argument("--verbose", type=int, default=1, metavar="N",
                     help="0 silent, 1 status (default), 2 results, 3 all")
    run.set_defaults(handler=cmd_run)

    ls = sub.add_parser("ls", help="list the experiments of a results folder",
                        description="List the experiments in a results folder with their trial counts by status "
                                    "and the best value of a metric.")
    ls.add_argument("results_dir", nargs="?", metavar="RESULTS_DIR",
                    help="results folder (default: $TUNELAB_RESULTS_DIR or ~/tunelab_results)")
    _add_metric_args(ls, "rank trials by")
    ls.set_defaults(handler=cmd_ls)

    show = sub.add_parser("show", help="show the status table of an experiment",
                          description="Print the == Status == table of a finished or running experiment.")
    show.add_argument("experiment_dir", metavar="EXPERIMENT_DIR",
                      help="experiment folder, or an experiment name under the default results folder")
    show.add_argument("--max-trials", type=int, default=20, metavar="N", help="trials to list at most (default: 20)")
    _add_metric_args(show, "rank trials by")
    show.set_defaults(handler=cmd_show)

    plot = sub.add_parser("plot", help="write plots of an experiment as HTML (and PNG)",
                          description="Write parallel coordinates, learning curves and best-so-far plots of an "
                                      "experiment as self-contained HTML files (needs 'tunelab[plot]').")
    plot.add_argument("experiment_dir", metavar="EXPERIMENT_DIR",
                      help="experiment folder, or an experiment name under the default results folder")
    _add_metric_args(plot, "plot")
    plot.add_argument("--out", metavar="DIR", help="folder for the plots (default: EXPERIMENT_DIR/plots)")
    plot.add_argument("--png", action="store_true", help="also write PNG files (needs kaleido)")
    plot.set_defaults(handler=cmd_plot)

    dashboard = sub.add_parser(
        "dashboard", help="serve the dashboard page of an experiment folder (read-only)",
        description="Serve the dashboard (trials table, learning curves, best so far, parallel coordinates, parameter "
                    "importance) of a finished experiment, or of one running elsewhere, from its files: read-only. "
                    "A running experiment serves its own, with stop and add, when started with with_server=True.",
        epilog="Example: tunelab dashboard ~/tunelab_results/my_exp --port 4321. See docs/dashboard.md.")
    dashboard.add_argument("experiment_dir", metavar="EXPERIMENT_DIR",
                           help="experiment folder, or an experiment name under the default results folder "
                                "or its storage URI (s3://bucket/prefix/<name>: followed as it grows)")
    dashboard.add_argument("--port", type=int, default=4321, help="port to listen on (default: 4321; 0 picks one)")
    dashboard.add_argument("--host", default="127.0.0.1",
                           help="address to listen on (default: 127.0.0.1; another one needs a token)")
    dashboard.add_argument("--token", help="token every request must carry (default: $TUNELAB_SERVER_TOKEN); "
                                           "needed to listen on an address other than loopback")
    dashboard.set_defaults(handler=cmd_dashboard)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the `tunelab` command; returns the exit code (the console script exits with it)."""
    import yaml

    args = build_parser().parse_args(argv)
    handler: Callable[[argparse.Namespace], int] = args.handler
    try:
        return handler(args)
    except (TuneError, OSError, json.JSONDecodeError, yaml.YAMLError) as exc:
        message = " ".join(str(exc).split("\n", 1)[0].split()) or type(exc).__name__
        print(f"tunelab: error: {message}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("tunelab: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
