"""Seed path `ray.tune.result`: the names of the result keys tunelab fills in or understands.

`from tunelab.result import TIMESTEPS_TOTAL` (2018: `from ray.tune.result import TIMESTEPS_TOTAL`).
"""
from tunelab.experiment import resolve_local_dir
from tunelab.result_keys import *  # noqa: F403 - the result keys, under the seed's module path
from tunelab.storage.layout import PARAMS_FILE, PROGRESS_FILE, RESULT_FILE

#: where results go by default: `$TUNELAB_RESULTS_DIR` or `~/tunelab_results` (read when tunelab is imported;
#: experiments read the variable again when they are built)
DEFAULT_RESULTS_DIR = resolve_local_dir(None)

# the files of every trial folder (their names live in tunelab.storage.layout)
EXPR_PARAM_FILE = PARAMS_FILE
EXPR_PARARM_FILE = EXPR_PARAM_FILE  # the seed's spelling
EXPR_PROGRESS_FILE = PROGRESS_FILE
EXPR_RESULT_FILE = RESULT_FILE
