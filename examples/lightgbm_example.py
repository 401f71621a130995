"""LightGBM on scikit-learn's breast cancer data, tuned with ASHA through tunelab's LightGBM callback.

Each trial trains a booster with `lgb.train`; `TuneReportCheckpointCallback` reports the validation
log loss and AUC after every boosting round and saves the booster as the round's checkpoint. ASHA
stops unpromising trials early: the report raises inside LightGBM, so a stopped trial trains no
further round. A restarted trial (after a failure, or when an experiment is resumed) picks its booster
up from `tune.get_checkpoint()` and trains only the rounds that are left (`init_model=`). At the end
the best trial's booster is loaded from its checkpoint with `get_model` and scored on the held-out data.

    python examples/lightgbm_example.py
    python examples/lightgbm_example.py --smoke-test    # 4 trials of 10 rounds (used by the tests)
"""
import argparse

import lightgbm as lgb
from sklearn.datasets import load_breast_cancer
from sklearn.model_selection import train_test_split

import tunelab as tune
from tunelab.integrations.lightgbm import TuneReportCheckpointCallback
from tunelab.schedulers import ASHAScheduler


def load_data():
    data, labels = load_breast_cancer(return_X_y=True)
    return train_test_split(data, labels, test_size=0.25, random_state=0)


def train_breast_cancer(config):
    train_x, test_x, train_y, test_y = load_data()
    dtrain = lgb.Dataset(train_x, label=train_y)
    dtest = lgb.Dataset(test_x, label=test_y, reference=dtrain)
    checkpoint = tune.get_checkpoint()
    booster = TuneReportCheckpointCallback.get_model(checkpoint) if checkpoint else None
    rounds_done = booster.current_iteration() if booster is not None else 0
    if rounds_done >= config["num_boost_round"]:  # restored from its last round: nothing left to train
        return
    params = {key: config[key] for key in ("num_leaves", "learning_rate", "min_data_in_leaf", "feature_fraction")}
    params.update(objective="binary", metric=["binary_logloss", "auc"], num_threads=1, verbose=-1)
    lgb.train(params, dtrain, num_boost_round=config["num_boost_round"] - rounds_done, valid_sets=[dtest],
              valid_names=["eval"], init_model=booster,
              callbacks=[TuneReportCheckpointCallback({"logloss": "eval-binary_logloss", "auc": "eval-auc"},
                                                      frequency=1)])


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--smoke-test", action="store_true", help="4 trials of 10 boosting rounds")
    args = parser.parse_args()
    rounds = 10 if args.smoke_test else 100

    analysis = tune.run(
        train_breast_cancer,
        name="lightgbm_breast_cancer",
        metric="logloss",
        mode="min",
        num_samples=4 if args.smoke_test else 20,
        scheduler=ASHAScheduler(max_t=rounds, grace_period=2 if args.smoke_test else 10, reduction_factor=2),
        config={
            "num_boost_round": rounds,
            "num_leaves": tune.randint(4, 64),
            "learning_rate": tune.loguniform(0.05, 0.5),
            "min_data_in_leaf": tune.choice([5, 10, 20]),
            "feature_fraction": tune.uniform(0.5, 1.0),
        },
    )

    best = analysis.best_trial
    booster = TuneReportCheckpointCallback.get_model(best.checkpoint)
    _, test_x, _, test_y = load_data()
    accuracy = float(((booster.predict(test_x) > 0.5) == test_y).mean())
    rounds_run = sum(t.last_result["training_iteration"] for t in analysis.trials)
    print(f"\n{len(analysis.trials)} trials, {rounds_run} boosting rounds in all (of {len(analysis.trials) * rounds})")
    print(f"Best config: {analysis.best_config}")
    print(f"Best trial: logloss={best.last_result['logloss']:.4f} after {booster.current_iteration()} rounds")
    print(f"Best model accuracy: {accuracy:.4f}")


if __name__ == "__main__":
    main()
