"""The console view of an experiment: the seed's `== Status ==` block and the `ProgressReporter` callback.

`status_text` reproduces the seed's block (states in sorted order, at most `max_trials` trials split
fairly across states, natural sort by experiment tag). It costs O(n) plus O(n log k) for the k trials
shown, so it stays cheap with 10,000 trials. `ProgressReporter` prints that block every few seconds, or,
in a terminal, keeps a live `rich` table with a progress bar; it also prints `Result for <trial>:`
blocks at verbose >= 2. In a Jupyter notebook it keeps one HTML table that is updated in place
(`IPython.display`, like Ray Tune's notebook reporter).
"""
from __future__ import annotations

import heapq
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, NamedTuple, TextIO

from tunelab import metrics
from tunelab.callback import Callback
from tunelab.result_keys import CONFIG, DONE, EPISODE_REWARD_MEAN, MEAN_ACCURACY, MEAN_LOSS, TIME_TOTAL_S, TRAINING_ITERATION
from tunelab.trial_naming import natural_key

if TYPE_CHECKING:
    from collections.abc import Sequence

    from rich.text import Text

    from tunelab.trial_view import TrialLike, TrialView

__all__ = ["ProgressReporter", "in_notebook", "pretty_print", "select_trials", "status_text"]

MAX_DEBUG_TRIALS = 20
DEFAULT_METRICS = ((EPISODE_REWARD_MEAN, "rew"), (MEAN_LOSS, "loss"), (MEAN_ACCURACY, "acc"))


# -- choosing the trials to show ---------------------------------------------------------------------
class Section(NamedTuple):
    """The trials of one state to show: `head`, then `hidden` not shown, then `tail`."""

    state: str
    head: list
    hidden: int
    tail: list


def _fair_limits(counts: dict[str, int], max_trials: int) -> dict[str, int]:
    """Hand out `max_trials` slots one per state in turn (sorted order) until all are used or shown."""
    limits = dict.fromkeys(counts, 0)
    remaining = max_trials
    while remaining > 0:
        progressed = False
        for state in sorted(counts):
            if remaining and limits[state] < counts[state]:
                limits[state] += 1
                remaining -= 1
                progressed = True
        if not progressed:
            break
    return limits


def select_trials(trials: Iterable["TrialLike"], max_trials: int = MAX_DEBUG_TRIALS) -> list[Section]:
    """Group trials by state (sorted) and keep at most `max_trials` in all, fairly split across states;
    a state with more trials than its share shows the head and tail of its naturally sorted trials."""
    by_state: dict[str, list] = defaultdict(list)
    for trial in trials:
        by_state[trial.status].append(trial)
    limits = _fair_limits({s: len(ts) for s, ts in by_state.items()}, max_trials)
    sections = []
    for state in sorted(by_state):
        group, limit = by_state[state], limits[state]
        keyed = [(natural_key(t.experiment_tag), i) for i, t in enumerate(group)]
        if len(group) <= limit:
            sections.append(Section(state, [group[i] for _, i in sorted(keyed)], 0, []))
            continue
        head_n, tail_n = (limit + 1) // 2, limit // 2
        head = [group[i] for _, i in heapq.nsmallest(head_n, keyed)]
        tail = [group[i] for _, i in reversed(heapq.nlargest(tail_n, keyed))] if tail_n else []
        sections.append(Section(state, head, len(group) - head_n - tail_n, tail))
    return sections


# -- the seed's text block ---------------------------------------------------------------------------
def trial_counts(trials: Iterable["TrialLike"]) -> str:
    """`6 (2 RUNNING, 4 TERMINATED)`: the number of trials and how many are in each state."""
    counts = Counter(t.status for t in trials)
    per_state = ", ".join(f"{n} {state}" for state, n in sorted(counts.items()))
    return f"{sum(counts.values())} ({per_state})"


def status_text(
    trials: Sequence["TrialLike"],
    scheduler_debug: str,
    resources_used: str,
    result_dirs: Iterable[str],
    max_trials: int = MAX_DEBUG_TRIALS,
    storage_problems: Iterable[str] = (),
) -> str:
    """The seed's `== Status ==` block. `resources_used` is the text after `Resources requested: `
    (e.g. `4/8 CPUs, 0/0 GPUs`); one `Result logdir:` line is written per folder in `result_dirs`, and one
    `Storage is behind:` line per entry of `storage_problems` (storage that failed: results are local only)."""
    lines = ["== Status =="]
    if scheduler_debug:
        lines.append(scheduler_debug)
    if resources_used:
        lines.append(f"Resources requested: {resources_used}")
    lines += [f"Result logdir: {d}" for d in result_dirs]
    lines += _storage_lines(storage_problems)
    if trials:
        lines.append(f"Number of trials: {trial_counts(trials)}")
    for section in select_trials(trials, max_trials):
        lines.append(f"{section.state} trials:")
        lines += [f" - {t}:\t{t.progress_string()}" for t in section.head]
        if section.hidden:
            lines.append(f"  ... {section.hidden} not shown")
        lines += [f" - {t}:\t{t.progress_string()}" for t in section.tail]
    return "\n".join(lines)


def _storage_lines(problems: Iterable[str]) -> list[str]:
    return [f"Storage is behind: {problem}" for problem in problems]


def pretty_print(result: dict) -> str:
    """The seed's `Result for` body: YAML of the result without `config` and without None values."""
    import json

    import yaml

    from tunelab.loggers.encoding import dumps_result

    cleaned = {k: v for k, v in result.items() if k != CONFIG and v is not None}
    return yaml.safe_dump(json.loads(dumps_result(cleaned)), default_flow_style=False)


def best_trial_line(trials: Iterable["TrialLike"], metric: str, mode: str) -> str | None:
    """`Current best trial: <name> with <metric>=<value>`, or None when no trial reported the metric."""
    found = metrics.best_of(((t, metrics.metric_number(t.last_result, metric)) for t in trials), mode)
    return f"Current best trial: {found[0]} with {metric}={found[1]:.6g}" if found else None


# -- the callback ------------------------------------------------------------------------------------
class ProgressReporter(Callback):
    """Shows the experiment's progress on the console.

    The controller calls `report(trials, done, info)` every few seconds and once more at the end with
    `done=True`; `info` holds `scheduler_debug`, `resources_used`, `result_dirs`, and optionally
    `storage_problems` (why the storage copy is behind, shown as `Storage is behind:` lines),
    `total_trials`, `metric`, `mode`. Verbosity: 0 silent, 1 status only, 2 also `Result for <trial>:`
    at most every `result_interval_s` per trial and always for the final result, 3 every result.
    In a terminal (or with `live=True`) the status is a live table refreshed at most 4 times a second; in a
    Jupyter notebook (or with `notebook=True`) one HTML output updated in place at most twice a second;
    otherwise the text block is printed at most every `print_interval_s`.
    """

    def __init__(
        self,
        verbose: int = 1,
        metric: str | None = None,
        mode: str | None = None,
        print_interval_s: float = 5.0,
        result_interval_s: float = 5.0,
        max_trials: int = MAX_DEBUG_TRIALS,
        out: TextIO | None = None,
        live: bool | None = None,
        notebook: bool | None = None,
    ):
        self.verbose = verbose
        self.metric, self.mode = metric, mode
        self.print_interval_s = print_interval_s
        self.result_interval_s = result_interval_s
        self.max_trials = max_trials
        self._out = out
        self._live_wanted = live
        self._notebook_wanted = notebook
        self._info: dict[str, Any] = {}
        self._last_status = float("-inf")
        self._last_result_print: dict[str, float] = {}
        self._view: _LiveView | _NotebookView | None = None

    @property
    def refresh_interval_s(self) -> float:
        """How often the controller should call `report`: a live table is redrawn 4 times a second, a
        notebook's twice."""
        if self._use_notebook():
            return _NotebookView.min_interval_s
        return 0.25 if self._use_live() else self.print_interval_s

    @property
    def out(self) -> TextIO:
        return self._out if self._out is not None else sys.stdout

    def _use_notebook(self) -> bool:
        if self._notebook_wanted is not None:
            return self._notebook_wanted
        return self._out is None and self._live_wanted is None and in_notebook()

    def _use_live(self) -> bool:
        if self._use_notebook():
            return False
        if self._live_wanted is not None:
            return self._live_wanted
        isatty = getattr(self.out, "isatty", None)
        return bool(isatty and isatty())

    def _emit(self, text: str) -> None:
        if self._view is not None:
            self._view.print(text)
        else:
            print(text, file=self.out, flush=True)

    def report(self, trials: Sequence["TrialLike"], done: bool, info: dict[str, Any]) -> None:
        """Show the status now if it is due (always when `done`)."""
        if self.verbose < 1:
            return
        self._info = {**info, "metric": info.get("metric") or self.metric, "mode": info.get("mode") or self.mode}
        if self._use_notebook() or self._use_live():
            if self._view is None:
                self._view = _NotebookView(self.max_trials) if self._use_notebook() else _LiveView(self.out, self.max_trials)
            self._view.update(trials, self._info, force=True)
            if done:
                self._stop_view()
            return
        now = time.monotonic()
        if done or now - self._last_status >= self.print_interval_s:
            self._last_status = now
            self._emit(
                status_text(
                    trials,
                    info.get("scheduler_debug", ""),
                    info.get("resources_used", ""),
                    info.get("result_dirs", ()),
                    self.max_trials,
                    info.get("storage_problems", ()),
                )
            )

    def on_trial_result(
        self, iteration: int, trials: "Sequence[TrialView]", trial: "TrialView", result: dict, **info: Any
    ) -> None:
        if self.verbose >= 2:
            now = time.monotonic()
            last = self._last_result_print.get(trial.trial_id, float("-inf"))
            if self.verbose >= 3 or result.get(DONE) or now - last >= self.result_interval_s:
                self._last_result_print[trial.trial_id] = now
                self._emit(f"Result for {trial}:\n{pretty_print(result)}")
        if self._view is not None:
            self._view.update(trials, self._info, force=False)

    def on_trial_complete(self, iteration: int, trials: "Sequence[TrialView]", trial: "TrialView", **info: Any) -> None:
        self._last_result_print.pop(trial.trial_id, None)

    def on_trial_error(self, iteration: int, trials: "Sequence[TrialView]", trial: "TrialView", **info: Any) -> None:
        self._last_result_print.pop(trial.trial_id, None)

    def on_experiment_end(self, trials: "Sequence[TrialView]", **info: Any) -> None:
        self._stop_view()

    def _stop_view(self) -> None:
        if self._view is not None:
            self._view.stop()
            self._view = None


def in_notebook() -> bool:
    """Whether this process is a Jupyter kernel (IPython's ZMQInteractiveShell). Reads IPython only if it
    is already imported (a kernel always has it), so `import tunelab` stays light."""
    ipython = sys.modules.get("IPython")
    get_ipython = getattr(ipython, "get_ipython", None)
    if get_ipython is None:
        return False
    shell = get_ipython()
    return shell is not None and type(shell).__name__ == "ZMQInteractiveShell"


def _header_lines(trials: Sequence["TrialLike"], info: dict[str, Any]) -> list[str]:
    """The lines above the trials table: scheduler, resources, result folders, counts, best trial."""
    lines = [info.get("scheduler_debug", "")]
    if info.get("resources_used"):
        lines.append(f"Resources requested: {info['resources_used']}")
    lines += [f"Result logdir: {d}" for d in info.get("result_dirs", ())]
    lines += _storage_lines(info.get("storage_problems", ()))
    if trials:
        lines.append(f"Number of trials: {trial_counts(trials)}")
    if info.get("metric") and metrics.is_mode(info.get("mode")):
        lines.append(best_trial_line(trials, info["metric"], info["mode"]) or "")
    return [line for line in lines if line]


def _table_rows(trials: Sequence["TrialLike"], info: dict[str, Any], max_trials: int) -> tuple[list[str], list[list[str]]]:
    """The trials table: its column names and rows (a `... n more <STATE>` row for hidden trials)."""
    sections = select_trials(trials, max_trials)
    shown = [t for s in sections for t in (*s.head, *s.tail)]
    if info.get("metric"):
        metrics = [(info["metric"], info["metric"])]
    else:
        metrics = [(k, label) for k, label in DEFAULT_METRICS if any(k in t.last_result for t in shown)]
    columns = ["Trial name", "status", "iter", "total time (s)", *(label for _, label in metrics)]
    rows = []
    for section in sections:
        rows += [_row(trial, metrics) for trial in section.head]
        if section.hidden:
            rows.append([f"... {section.hidden} more {section.state}", *[""] * (3 + len(metrics))])
        rows += [_row(trial, metrics) for trial in section.tail]
    return columns, rows


class _NotebookView:
    """One notebook output (`display(..., display_id=True)`) replaced in place by each update: header
    lines, the trials table as HTML and `n/total trials finished`; `text/plain` holds the seed's block."""

    min_interval_s = 0.5

    def __init__(self, max_trials: int):
        self._max_trials = max_trials
        self._handle: Any = None
        self._last = float("-inf")

    def print(self, text: str) -> None:
        print(text, flush=True)

    def update(self, trials: Sequence["TrialLike"], info: dict[str, Any], force: bool) -> None:
        """Replace the output, at most every `min_interval_s` unless `force`."""
        now = time.monotonic()
        if not force and now - self._last < self.min_interval_s:
            return
        self._last = now
        bundle = {
            "text/html": self._html(trials, info),
            "text/plain": status_text(trials, info.get("scheduler_debug", ""), info.get("resources_used", ""),
                                      info.get("result_dirs", ()), self._max_trials, info.get("storage_problems", ())),
        }
        if self._handle is None:
            from IPython.display import display

            self._handle = display(bundle, raw=True, display_id=True)
        else:
            self._handle.update(bundle, raw=True)

    def _html(self, trials: Sequence["TrialLike"], info: dict[str, Any]) -> str:
        from html import escape

        columns, rows = _table_rows(trials, info, self._max_trials)
        finished = sum(1 for t in trials if t.is_finished())
        total = info.get("total_trials")
        parts = ['<div class="tunelab-status">', "<h3>Trial status</h3>"]
        parts += [f"<p>{escape(line)}</p>" for line in _header_lines(trials, info)]
        parts.append(f"<p>{finished}/{total if total else '?'} trials finished</p>")
        parts.append('<table class="tunelab-trials"><thead><tr>')
        parts += [f"<th>{escape(c)}</th>" for c in columns]
        parts.append("</tr></thead><tbody>")
        for row in rows:
            parts.append("<tr>" + "".join(f"<td>{escape(cell)}</td>" for cell in row) + "</tr>")
        parts.append("</tbody></table></div>")
        return "".join(parts)

    def stop(self) -> None:
        """Nothing to close: the output keeps its last state."""


class _LiveView:
    """A `rich.live.Live` display: header lines, a table of the shown trials and a progress bar of
    finished trials (a spinner and `n/?` while the total is unknown)."""

    min_interval_s = 0.25

    def __init__(self, out: TextIO, max_trials: int):
        from rich.console import Console
        from rich.live import Live
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            SpinnerColumn,
            TextColumn,
            TimeElapsedColumn,
        )

        self._console = Console(file=out)
        self._max_trials = max_trials
        self._progress = Progress(
            SpinnerColumn(), TextColumn("trials"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
            console=self._console, auto_refresh=False,
        )
        self._task = self._progress.add_task("trials", total=None)
        self._live = Live(console=self._console, refresh_per_second=4)
        self._live.start()
        self._last = float("-inf")

    def print(self, text: str) -> None:
        self._console.out(text, highlight=False)

    def update(self, trials: Sequence["TrialLike"], info: dict[str, Any], force: bool) -> None:
        """Rebuild the display, at most every `min_interval_s` unless `force`."""
        now = time.monotonic()
        if not force and now - self._last < self.min_interval_s:
            return
        self._last = now
        from rich.console import Group

        finished = sum(1 for t in trials if t.is_finished())
        self._progress.update(self._task, completed=finished, total=info.get("total_trials"))
        self._live.update(Group(*self._header(trials, info), self._table(trials, info), self._progress), refresh=force)

    def _header(self, trials: Sequence["TrialLike"], info: dict[str, Any]) -> list[Text]:
        from rich.text import Text

        return [Text(line) for line in _header_lines(trials, info)]

    def _table(self, trials: Sequence["TrialLike"], info: dict[str, Any]) -> Any:
        from rich.table import Table

        columns, rows = _table_rows(trials, info, self._max_trials)
        table = Table(show_edge=False, pad_edge=False)
        for name in columns:
            table.add_column(name, justify="left" if name in ("Trial name", "status") else "right")
        for row in rows:
            table.add_row(*row)
        return table

    def stop(self) -> None:
        self._live.stop()


def _row(trial: "TrialView", metrics: list[tuple[str, str]]) -> list[str]:
    result = trial.last_result
    time_total = result.get(TIME_TOTAL_S)
    return [
        str(trial),
        trial.status,
        _fmt(result.get(TRAINING_ITERATION)),
        f"{time_total:.1f}" if isinstance(time_total, (int, float)) else "",
        *(_fmt(result.get(key)) for key, _ in metrics),
    ]


def _fmt(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)
