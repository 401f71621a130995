"""Message kinds exchanged between the driver and a worker process (tuples: kind first).

driver -> worker: START(payload) | CONTINUE | STOP | SAVE | RESTORE(path) | RESET(config) | EXIT
worker -> driver: (kind, trial_id, ...): RESULT(result, checkpoint_path) | SAVED(path, error) |
                  RESTORED(error) | RESET_DONE(ok) | FINISHED | ERROR(traceback) | STOPPED
Every worker -> driver message carries the trial id so that messages of a trial the driver already
ended are recognised and dropped. Each run of a trial ends with exactly one of FINISHED, ERROR or STOPPED
(after a STOP: the trainable has returned and cleaned up); the driver gives the worker another trial only
after that message, so nothing of the old run can be mistaken for the new one.
"""

START = "start"
CONTINUE = "continue"
STOP = "stop"
SAVE = "save"
RESTORE = "restore"
RESET = "reset"
EXIT = "exit"

RESULT = "result"
SAVED = "saved"
RESTORED = "restored"
RESET_DONE = "reset_done"
FINISHED = "finished"
ERROR = "error"
STOPPED = "stopped"
