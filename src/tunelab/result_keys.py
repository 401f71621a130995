"""The result keys tunelab fills in or understands: their one home (`tunelab.result`, the seed's module
path, re-exports them). Code that reads or writes a result key uses these names, never the literal."""

# (Optional/auto-filled) the trial is finished; filled in (False) when not reported
DONE = "done"
# (Auto-filled) the machine, its IP address and the process running the trial
HOSTNAME = "hostname"
NODE_IP = "node_ip"
PID = "pid"
# (Optional) common metrics: the seed's schedulers maximise EPISODE_REWARD_MEAN by default;
# NEG_MEAN_LOSS is added to every result that reports MEAN_LOSS
EPISODE_REWARD_MEAN = "episode_reward_mean"
MEAN_LOSS = "mean_loss"
NEG_MEAN_LOSS = "neg_mean_loss"
MEAN_ACCURACY = "mean_accuracy"
# episodes and timesteps: the *_TOTAL keys are the sums of the *_THIS_ITER ones when those are reported
EPISODES_THIS_ITER = "episodes_this_iter"
EPISODES_TOTAL = "episodes_total"
TIMESTEPS_THIS_ITER = "timesteps_this_iter"
TIMESTEPS_TOTAL = "timesteps_total"
# (Auto-filled) time of this iteration (may be reported to override the measured one) and since the start
TIME_THIS_ITER_S = "time_this_iter_s"
TIME_TOTAL_S = "time_total_s"
# (Auto-filled) 1-based index of the iteration
TRAINING_ITERATION = "training_iteration"
# (Auto-filled) ids and times
TRIAL_ID = "trial_id"
EXPERIMENT_ID = "experiment_id"
TIME_SINCE_RESTORE = "time_since_restore"
TIMESTEPS_SINCE_RESTORE = "timesteps_since_restore"
ITERATIONS_SINCE_RESTORE = "iterations_since_restore"
# (Auto-filled) the trial's config (in result.json, not in the metrics), and when the result was made
CONFIG = "config"
DATE = "date"
TIMESTAMP = "timestamp"
