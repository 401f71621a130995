"""XGBoost on scikit-learn's breast cancer data, tuned with ASHA through tunelab's XGBoost callback.

Each trial trains a booster with `xgb.train`; `TuneReportCheckpointCallback` reports the validation
log loss and error after every boosting round and saves the booster as the round's checkpoint. ASHA
stops unpromising trials early: the report raises inside xgboost, so a stopped trial trains no further
round. A trial that is restarted (after a failure, or when an experiment is resumed) picks its booster
up from `tune.get_checkpoint()` and trains only the rounds that are left. At the end the best trial's
booster is loaded from its checkpoint with `get_model` and scored on the held-out data.

    python examples/xgboost_example.py
    python examples/xgboost_example.py --smoke-test    # 4 trials of 10 rounds (used by the tests)
"""
import argparse

import xgboost as xgb
from sklearn.datasets import load_breast_cancer
from sklearn.model_selection import train_test_split

import tunelab as tune
from tunelab.integrations.xgboost import TuneReportCheckpointCallback
from tunelab.schedulers import ASHAScheduler


def load_data():
    data, labels = load_breast_cancer(return_X_y=True)
    train_x, test_x, train_y, test_y = train_test_split(data, labels, test_size=0.25, random_state=0)
    return xgb.DMatrix(train_x, label=train_y), xgb.DMatrix(test_x, label=test_y), test_y


def train_breast_cancer(config):
    dtrain, dtest, _ = load_data()
    checkpoint = tune.get_checkpoint()
    booster = TuneReportCheckpointCallback.get_model(checkpoint) if checkpoint else None
    rounds_done = booster.num_boosted_rounds() if booster is not None else 0
    params = {key: config[key] for key in ("max_depth", "min_child_weight", "subsample", "eta")}
    params.update(objective="binary:logistic", eval_metric=["logloss", "error"], nthread=1)
    xgb.train(params, dtrain, num_boost_round=config["num_boost_round"] - rounds_done, evals=[(dtest, "eval")],
              xgb_model=booster, verbose_eval=False,
              callbacks=[TuneReportCheckpointCallback({"logloss": "eval-logloss", "error": "eval-error"}, frequency=1)])


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--smoke-test", action="store_true", help="4 trials of 10 boosting rounds")
    args = parser.parse_args()
    rounds = 10 if args.smoke_test else 100

    analysis = tune.run(
        train_breast_cancer,
        name="xgboost_breast_cancer",
        metric="logloss",
        mode="min",
        num_samples=4 if args.smoke_test else 20,
        scheduler=ASHAScheduler(max_t=rounds, grace_period=2 if args.smoke_test else 10, reduction_factor=2),
        config={
            "num_boost_round": rounds,
            "max_depth": tune.randint(1, 9),
            "min_child_weight": tune.choice([1, 2, 3]),
            "subsample": tune.uniform(0.5, 1.0),
            "eta": tune.loguniform(0.05, 0.5),
        },
    )

    best = analysis.best_trial
    booster = TuneReportCheckpointCallback.get_model(best.checkpoint)
    _, dtest, test_y = load_data()
    accuracy = float(((booster.predict(dtest) > 0.5) == test_y).mean())
    rounds_run = sum(t.last_result["training_iteration"] for t in analysis.trials)
    print(f"\n{len(analysis.trials)} trials, {rounds_run} boosting rounds in all (of {len(analysis.trials) * rounds})")
    print(f"Best config: {analysis.best_config}")
    print(f"Best trial: logloss={best.last_result['logloss']:.4f} after {booster.num_boosted_rounds()} rounds")
    print(f"Best model accuracy: {accuracy:.4f}")


if __name__ == "__main__":
    main()
