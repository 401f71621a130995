"""Message kinds exchanged between the driver and a worker process (tuples: kind first).

driver -> worker: START(payload) | CONTINUE | STOP | SAVE | RESTORE(path) | RESET(config) | EXIT
worker -> driver: (kind, trial_id, ...): RESULT(result, checkpoint_path) | SAVED(path, error) |
                  RESTORED(error) | RESET_DONE(ok) | FINISHED | ERROR(traceback)
Every worker -> driver message carries the trial id so that messages of a trial the driver already
ended (its worker reused) are recognised and dropped.
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
