"""Records an experiment's state as it runs (journal + snapshots) and rebuilds it for `resume`."""
from __future__ import annotations

import hashlib
import inspect
import os
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from tunelab.error import TuneError
from tunelab.result_keys import TRAINING_ITERATION
from tunelab.storage import layout
from tunelab.storage.journal import Journal, corrupt, decode, encode
from tunelab.storage.layout import EVENT
from tunelab.storage.lines import read_last_result
from tunelab.storage.lock import ExperimentLock
from tunelab.storage.remote import Storage
from tunelab.storage.sync import ExperimentSync, checkpoints_in_storage, fetch_experiment
from tunelab.storage.trial_dir import CheckpointKeeper
from tunelab.trainable.checkpoint import Checkpoint
from tunelab.trial import Trial

if TYPE_CHECKING:
    from tunelab.experiment import Experiment

SNAPSHOT_INTERVAL_S = 5.0
_FINAL = (Trial.TERMINATED, Trial.ERROR)


def _fingerprint(value: Any) -> str:
    return hashlib.sha1(repr(value).encode()).hexdigest()[:16]


def _config_shape(config: Any) -> Any:
    """The search space's structure: keys and value kinds/domains, not sampled values."""
    if isinstance(config, dict):
        return {str(k): _config_shape(v) for k, v in sorted(config.items(), key=lambda kv: str(kv[0]))}
    if isinstance(config, (list, tuple)):
        return [_config_shape(v) for v in config]
    if callable(config):
        return "<callable>"
    return repr(config)


def _relocation(journaled_root: str | None, root: str) -> Callable[[Any], Any]:
    """Maps a path under the experiment folder where it was journaled to the same path under `root`, so
    a moved or copied experiment resumes in its new place (never writing into the old one)."""
    if not journaled_root or os.path.normpath(journaled_root) == os.path.normpath(root):
        return lambda path: path
    old = os.path.normpath(journaled_root)

    def where(path: Any) -> Any:
        if isinstance(path, str) and (path == old or path.startswith(old + os.sep)):
            return root + path[len(old):]
        return path

    return where


def _use_new_stop(trial: Trial, exp: "Experiment") -> None:
    """The stop criteria of the resuming call win over the journaled ones (so a fixed stop function is
    used); a resuming call that passes none keeps the journaled ones."""
    from tunelab.stopper import make_stopper

    if exp.stop and trial.local_dir == exp.path:
        trial.stopping_criterion = exp.stop
        trial.stopper = make_stopper(exp.stop)


def _has_own_checkpoint(trial: Trial) -> bool:
    """True when the trial saved a checkpoint of its own (not just the `restore=` one it started from)."""
    return trial.checkpoint is not None and trial.checkpoint.path != trial.restore_path


def _json_logging_on() -> bool:
    from tunelab.loggers import _disabled_from_env

    return "json" not in _disabled_from_env()


def _code_fingerprint(trainable_name: str) -> str:
    from tunelab.registry import get_trainable

    trainable = get_trainable(trainable_name)
    target = getattr(trainable, "func", None) or getattr(trainable, "__wrapped_trainable__", None) or trainable
    try:
        return _fingerprint(inspect.getsource(target))
    except (OSError, TypeError):
        return ""


def _rebuild_keeper(trial: Trial, retained: list[tuple[float | None, str]],
                    exists: Callable[[str], bool] = os.path.isdir) -> CheckpointKeeper:
    """A trial's checkpoint retention as journaled: the checkpoints still on disk with their scores. A
    version-1 journal has no scores: the checkpoint's iteration stands in for the default score attribute
    (`training_iteration`), anything else scores -inf (the first to go)."""
    from tunelab.trainable.trainable import read_checkpoint_metadata

    keeper = CheckpointKeeper(trial.keep_checkpoints_num, trial.checkpoint_score_attr)
    kept = []
    for score, path in retained:
        if not exists(path):
            continue
        if score is None:
            iteration = read_checkpoint_metadata(path).get("iteration")
            score = keeper.score({keeper.score_attr: iteration}) if keeper.score_attr == TRAINING_ITERATION \
                else float("-inf")
        kept.append((float(score), path))
    keeper.restore(kept)
    return keeper


class ExperimentState:
    """The controller's recorder: one journal per experiment folder, snapshots of the algorithms."""

    def __init__(self, experiments: "list[Experiment]", search_alg: Any, scheduler: Any):
        self.experiments = experiments
        self.search_alg = search_alg
        self.scheduler = scheduler
        self.journals = {exp.path: Journal(exp.path) for exp in experiments}
        self.locks = [ExperimentLock(journal.dir) for journal in self.journals.values()]
        self._primary = self.journals[experiments[0].path] if experiments else None
        #: each experiment with storage: its background copy to `<storage_path>/<name>`
        self.syncs = {exp.path: ExperimentSync(exp.path, storage) for exp in experiments
                      if (storage := exp.storage) is not None}
        self._in_storage: dict[str, set[str]] = {}  # experiment path -> its checkpoint folders in storage
        self._events = 0
        self._num_trials = 0
        self._next_snapshot = 0.0

    # -- lifecycle ---------------------------------------------------------------------------------
    def acquire(self) -> None:
        """Lock every experiment folder for this driver (a TuneError names the driver holding one)."""
        try:
            for lock in self.locks:
                lock.acquire()
        except BaseException:
            self.release()
            raise

    def check_storage(self) -> None:
        """A TuneError now, before any trial starts, for storage that cannot be written (an unknown scheme, a
        missing bucket, refused credentials)."""
        for exp in self.experiments:
            sync = self.syncs.get(exp.path)
            if sync is not None:
                sync.storage.check(f"Experiment {exp.name!r}")

    def fetch_from_storage(self) -> None:
        """For a resume on a machine whose local_dir does not hold the experiment: copy its state and trial
        files from storage (checkpoints come later, to the worker that restores one)."""
        for exp in self.experiments:
            sync = self.syncs.get(exp.path)
            if sync is not None and not self.journals[exp.path].exists():
                fetch_experiment(sync.storage, exp.path)

    def storage_problems(self) -> list[str]:
        """Why storage is behind, per experiment (empty while it is up to date), for the status output."""
        return [f"storage {sync.storage.uri}: {sync.problem} (results are kept in {path})"
                for path, sync in self.syncs.items() if sync.problem]

    def finish_storage(self) -> None:
        """The last copy to storage, once the loggers have closed their files (idempotent): a failure is said
        on the console, never raised (every result is on local disk)."""
        syncs, self.syncs = self.syncs, {}
        for sync in syncs.values():
            try:
                sync.close()
            except Exception:
                import logging

                logging.getLogger(__name__).warning("storage: the last copy failed", exc_info=True)

    def release(self) -> None:
        """Close the journals and drop the locks (idempotent; no snapshot)."""
        for journal in self.journals.values():
            journal.close()
        for lock in self.locks:
            lock.release()

    def has_state(self) -> bool:
        return self._primary is not None and self._primary.has_state()

    def start(self, fresh: bool) -> None:
        for exp in self.experiments:
            header = None
            if fresh:
                header = layout.header_event(
                    experiment=exp.name, path=exp.path, trainable=exp.trainable_name,
                    space=_fingerprint(_config_shape(exp.config)), code=_code_fingerprint(exp.trainable_name),
                    time=time.time())
            self.journals[exp.path].open(fresh, header)
        if fresh:
            self.snapshot()  # the algorithms' initial state (e.g. the variant generator's random state)
        for sync in self.syncs.values():
            sync.start()

    def close(self) -> None:
        """The final snapshot, then `release`; the journals and locks are released even if it fails."""
        try:
            self.snapshot()
        finally:
            self.release()

    # -- controller hooks --------------------------------------------------------------------------
    def _append(self, trial: Trial, event: dict) -> None:
        journal = self.journals.get(trial.local_dir) or self._primary
        if journal is not None:
            journal.append(event)
            self._events += 1

    def on_add(self, trial: Trial) -> None:
        self._append(trial, layout.trial_added_event(trial.trial_id, encode(trial.to_spec())))
        self._num_trials += 1

    def after_add(self) -> None:
        """Called once the scheduler knows the new trial, before it can start: a searcher whose state is
        not derived from the journal is snapshotted now, so its state always covers started trials."""
        if not self._search_state_in_journal():
            self.snapshot()

    def _search_state_in_journal(self) -> bool:
        return bool(getattr(self.search_alg, "state_in_journal", False))

    def on_status(self, trial: Trial) -> None:
        self._append(trial, layout.status_event(trial.trial_id, trial.status, trial.num_failures, trial.logdir,
                                                trial.error_file))

    def on_checkpoint(self, trial: Trial, path: str, score: float) -> None:
        """A checkpoint registered, with its retention score (so retention is rebuilt on resume)."""
        self._append(trial, layout.checkpoint_event(trial.trial_id, path, score))

    def on_checkpoints_deleted(self, trial: Trial, paths: list[str]) -> None:
        """Checkpoints that `keep_checkpoints_num` retention deleted."""
        for path in paths:
            self._append(trial, layout.checkpoint_deleted_event(trial.trial_id, path))
        sync = self.syncs.get(trial.local_dir or "")
        if sync is not None:
            sync.delete_later(paths)

    def on_exploit(self, trial: Trial, checkpoint: Checkpoint | None) -> None:
        """PBT gave the trial a new config and tag, to continue from `checkpoint` (the donor's)."""
        self._append(trial, layout.exploit_event(trial.trial_id, encode(trial.config), trial.experiment_tag,
                                                 checkpoint.path if checkpoint is not None else None))

    def tick(self) -> None:
        if time.monotonic() >= self._next_snapshot:
            self.snapshot()

    def snapshot(self) -> None:
        if self._primary is None or not self._primary.is_open():
            return
        save_scheduler = getattr(self.scheduler, "save_state", None)
        state = {"events": self._events, "num_trials": self._num_trials,
                 "search": self.search_alg.save_state(),
                 "scheduler": save_scheduler() if save_scheduler else None}
        self._primary.write_snapshot(state)
        self._next_snapshot = time.monotonic() + SNAPSHOT_INTERVAL_S

    # -- resume ------------------------------------------------------------------------------------
    def load(self, resume_errored: str | None = None) -> tuple[
            list[Trial], dict | None, list[tuple[Trial, str]], dict[str, CheckpointKeeper]]:
        """Rebuild the trials from the journals.

        Returns the trials (journal order), the snapshot, the trials that finished after the snapshot
        (with their final status) so their completions can be replayed to the algorithms, and each trial's
        checkpoint retention (`keep_checkpoints_num`) as it was journaled.
        `resume_errored`: None keeps ERROR trials as they are, "resume" continues them from their latest
        checkpoint, "restart" runs them again from scratch.
        """
        trials: dict[str, Trial] = {}
        retained: dict[str, list[tuple[float | None, str]]] = {}
        after_snapshot: list[tuple[Trial, str]] = []
        journaled = []
        for exp in self.experiments:
            journal = self.journals[exp.path]
            if journal is self._primary or journal.exists():  # an experiment added since has none yet
                journaled.append((exp, journal.read()))
        snapshot = self._read_snapshot(
            sum(1 for _, events in journaled for e in events if e[EVENT] != layout.HEADER))
        snapshot_events = snapshot["events"] if snapshot else 0
        index = 0
        order: list[Trial] = []
        for exp, events in journaled:
            where = _relocation(events[0].get("path") if events else None, exp.path)
            for number, event in enumerate(events, 1):
                kind = event[EVENT]
                if kind == layout.HEADER:
                    self._check_header(exp, event)
                    continue
                index += 1
                try:
                    self._replay(event, trials, order, exp, where, retained, self._checkpoint_exists,
                                 sync.storage if (sync := self.syncs.get(exp.path)) is not None else None)
                except Exception as exc:  # a line that parses but does not decode is corrupt
                    raise corrupt(self.journals[exp.path].path,
                                  f"has an unreadable {kind!r} event on line {number} ({type(exc).__name__}: {exc})"
                                  ) from exc
                trial = trials.get(event.get("trial_id", ""))
                status = event.get("status")
                if kind == layout.STATUS and trial is not None and index > snapshot_events and status in _FINAL:
                    after_snapshot.append((trial, status))
        self._events = index
        if self._search_state_in_journal():
            known = len(order)  # every journaled trial counts: the generator skips exactly that many
            if snapshot is not None and snapshot.get("search") is not None:
                snapshot["search"] = dict(snapshot["search"], counter=len(order))
        else:
            known = snapshot["num_trials"] if snapshot else 0
        kept = []
        for position, trial in enumerate(order):
            never_started = trial.logdir is None and trial.status == Trial.PENDING
            if position >= known and never_started:
                continue  # added just before the kill, unknown to the searcher's snapshot: it comes again
            self._prepare_for_resume(trial, resume_errored)
            kept.append(trial)
        self._num_trials = len(kept)
        keepers = {trial.trial_id: _rebuild_keeper(trial, retained[trial.trial_id], self._checkpoint_exists)
                   for trial in kept if trial.trial_id in retained}
        self._delete_unretained_in_storage(kept, keepers)
        return kept, snapshot, after_snapshot, keepers

    def _delete_unretained_in_storage(self, trials: list[Trial], keepers: dict[str, CheckpointKeeper]) -> None:
        """A kill can come between a worker's upload and the report of its checkpoint, or between a deletion
        journaled and done in storage: storage then holds checkpoints that retention (`keep_checkpoints_num`)
        no longer keeps. Delete them, so a resumed experiment keeps what an uninterrupted one would."""
        for trial in trials:
            sync = self.syncs.get(trial.local_dir or "")
            if sync is None or trial.keep_checkpoints_num is None or not trial.logdir:
                continue
            keeper = keepers.get(trial.trial_id)
            kept = {path for _, path in keeper.kept} if keeper is not None else set()
            if trial.checkpoint is not None and trial.checkpoint.path:
                kept.add(trial.checkpoint.path)
            prefix = os.path.relpath(trial.logdir, trial.local_dir).replace(os.sep, "/") + "/"
            stale = [os.path.join(trial.local_dir, *rel.split("/")) for rel in self._stored_checkpoints(trial.local_dir)
                     if rel.startswith(prefix)]
            sync.delete_later([path for path in stale if path not in kept])

    def _checkpoint_exists(self, path: str) -> bool:
        """Whether a journaled checkpoint can still be restored: a folder here, or in its experiment's storage."""
        if os.path.isdir(path):
            return True
        for exp_path in self.syncs:
            if path.startswith(exp_path + os.sep):
                return os.path.relpath(path, exp_path).replace(os.sep, "/") in self._stored_checkpoints(exp_path)
        return False

    def _stored_checkpoints(self, exp_path: str) -> set[str]:
        """The checkpoint folders the experiment at `exp_path` has in storage (listed once, at resume)."""
        if exp_path not in self._in_storage:
            self._in_storage[exp_path] = checkpoints_in_storage(self.syncs[exp_path].storage)
        return self._in_storage[exp_path]

    @staticmethod
    def _replay(event: dict, trials: dict[str, Trial], order: list[Trial], exp: "Experiment",
                where: Callable[[Any], Any], retained: dict[str, list[tuple[float | None, str]]],
                exists: Callable[[str], bool] = os.path.isdir, storage: Storage | None = None) -> None:
        """Apply one journaled trial event to the trials being rebuilt (`where` maps journaled paths to
        the experiment folder's current place; `retained` collects each trial's kept checkpoints)."""
        kind = event[EVENT]
        trial = trials.get(event.get("trial_id", ""))
        if kind == layout.TRIAL_ADDED:
            spec = decode(event["spec"])
            spec["local_dir"], spec["logdir"] = where(spec.get("local_dir")), where(spec.get("logdir"))
            spec["storage"] = storage  # the resuming call's storage (the experiment may have moved)
            trial = Trial.from_spec(spec)
            trial.status = Trial.PENDING
            _use_new_stop(trial, exp)
            trials[trial.trial_id] = trial
            order.append(trial)
        elif trial is None:
            return
        elif kind == layout.STATUS:
            trial.status, trial.num_failures = event["status"], event.get("num_failures", 0)
            if "logdir" in event:
                trial.logdir = where(event["logdir"])
            if "error_file" in event:
                trial.error_file = where(event["error_file"])
        elif kind == layout.CHECKPOINT:
            path = where(event["path"])
            if exists(path):
                trial.checkpoint = Checkpoint.from_directory(path)
            kept = [entry for entry in retained.get(trial.trial_id, []) if entry[1] != path]
            retained[trial.trial_id] = kept + [(event.get("score"), path)]  # no score: a version-1 journal
        elif kind == layout.CHECKPOINT_DELETED:
            path = where(event["path"])
            retained[trial.trial_id] = [entry for entry in retained.get(trial.trial_id, []) if entry[1] != path]
        elif kind == layout.EXPLOIT:
            trial.config, trial.experiment_tag = decode(event["config"]), event["tag"]
            donor = where(event.get("checkpoint"))
            if donor and exists(donor):
                trial.checkpoint = Checkpoint.from_directory(donor)

    def _read_snapshot(self, trial_events: int) -> dict | None:
        """The primary journal's snapshot, checked against the journal. None only when no trial event was
        journaled yet (a kill between the journal's creation and the first snapshot)."""
        primary = self._primary
        assert primary is not None
        if not trial_events and not os.path.exists(primary.snapshot_path):
            return None
        snapshot = primary.read_snapshot()
        if snapshot["events"] > trial_events:
            raise corrupt(primary.path, f"holds {trial_events} events but the snapshot {primary.snapshot_path} "
                                        f"counts {snapshot['events']}: lines are missing")
        return snapshot

    @staticmethod
    def _prepare_for_resume(trial: Trial, resume_errored: str | None) -> None:
        if trial.logdir:
            result_file = os.path.join(trial.logdir, layout.RESULT_FILE)
            if os.path.exists(result_file):
                trial.last_result = read_last_result(result_file) or {}
            elif trial.checkpoint is not None and _has_own_checkpoint(trial) and _json_logging_on():
                raise corrupt(result_file, f"is missing although trial {trial} has a checkpoint "
                                           f"({trial.checkpoint.path}): resuming would leave a gap in its history")
        if trial.status == Trial.RUNNING:
            trial.status = Trial.PENDING
        elif trial.status == Trial.ERROR and resume_errored:
            trial.status = Trial.PENDING
            trial.num_failures = 0
            if resume_errored == "restart":
                trial.checkpoint = None

    def _check_header(self, exp: "Experiment", header: dict) -> None:
        problems = []
        if header.get("trainable") != exp.trainable_name:
            problems.append(f"trainable was {header.get('trainable')!r}, now {exp.trainable_name!r}")
        if header.get("space") != _fingerprint(_config_shape(exp.config)):
            problems.append("the config / search space changed")
        if problems:
            raise TuneError(
                f"Cannot resume experiment {exp.name!r} at {exp.path}: " + "; ".join(problems) + ". "
                "Resume with the spec it was started with, or start a new experiment (another name, or resume=False)."
            )
        code = _code_fingerprint(exp.trainable_name)
        if header.get("code") and code and header["code"] != code:
            import warnings

            warnings.warn(f"The code of trainable {exp.trainable_name!r} changed since experiment {exp.name!r} "
                          "started; resuming with the new code.", stacklevel=4)
