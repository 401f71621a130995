"""Ray Tune's Keras MNIST example (the seed points to it), run by tunelab with Keras 3.

MNIST cannot be downloaded here (no network), so this uses scikit-learn's bundled `digits` data in MNIST
style: 1,797 handwritten digits of 8x8 pixels, 10 classes, a `Flatten -> Dense -> Dropout -> softmax`
model trained with SGD + momentum. Each epoch reports validation accuracy through
`tunelab.integrations.keras.TuneReportCheckpointCallback`, with the model as checkpoint; ASHA stops the
weak configurations early (their `model.fit` ends in that epoch); a restarted trial continues from its
checkpoint (`get_model` + `initial_epoch`). The Keras backend is torch (`KERAS_BACKEND=torch` unless set):
no TensorFlow needed.

    python examples/keras_mnist_example.py
    python examples/keras_mnist_example.py --smoke-test    # 4 trials of at most 6 epochs (used by the tests)
"""
import argparse
import os

os.environ.setdefault("KERAS_BACKEND", "torch")  # before keras is imported; the trial workers inherit it

import tunelab as tune
from tunelab import train
from tunelab.integrations.keras import TuneReportCheckpointCallback
from tunelab.schedulers import AsyncHyperBandScheduler


def load_digits_as_images():
    """`digits` as MNIST-style (images, labels) train and validation splits, pixels scaled to [0, 1]."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    images = (digits.images / 16.0).astype("float32")  # (n, 8, 8) like MNIST's (n, 28, 28)
    return train_test_split(images, digits.target, test_size=0.25, random_state=0)


def train_mnist(config):
    import keras

    x_train, x_test, y_train, y_test = load_digits_as_images()
    checkpoint = train.get_checkpoint()
    if checkpoint:  # restarted (after a failure): the saved model, optimizer state included
        model = TuneReportCheckpointCallback.get_model(checkpoint)
    else:
        model = keras.models.Sequential([
            keras.Input(shape=(8, 8)),
            keras.layers.Flatten(),
            keras.layers.Dense(config["hidden"], activation="relu"),
            keras.layers.Dropout(0.2),
            keras.layers.Dense(10, activation="softmax"),
        ])
        model.compile(loss="sparse_categorical_crossentropy", metrics=["accuracy"],
                      optimizer=keras.optimizers.SGD(learning_rate=config["lr"], momentum=config["momentum"]))
    model.fit(x_train, y_train, batch_size=64, epochs=config["epochs"], verbose=0,
              initial_epoch=TuneReportCheckpointCallback.get_initial_epoch(checkpoint),
              validation_data=(x_test, y_test),
              callbacks=[TuneReportCheckpointCallback({"mean_accuracy": "val_accuracy", "loss": "val_loss"})])


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--smoke-test", action="store_true", help="4 trials of at most 6 epochs")
    args = parser.parse_args()
    epochs, samples = (6, 4) if args.smoke_test else (40, 10)

    scheduler = AsyncHyperBandScheduler(time_attr="training_iteration", max_t=epochs, grace_period=2)
    tuner = tune.Tuner(
        tune.with_resources(train_mnist, resources={"cpu": 1, "gpu": 0}),
        tune_config=tune.TuneConfig(metric="mean_accuracy", mode="max", scheduler=scheduler, num_samples=samples),
        run_config=train.RunConfig(name="keras_digits", stop={"mean_accuracy": 0.99},
                                   failure_config=train.FailureConfig(max_failures=1)),
        param_space={
            "epochs": epochs,
            "lr": tune.uniform(0.01, 0.2),
            "momentum": tune.uniform(0.1, 0.9),
            "hidden": tune.randint(32, 128),
        },
    )
    results = tuner.fit()
    best = results.get_best_result()
    epochs_run = sum(r.metrics["training_iteration"] for r in results)
    print(f"{len(results)} trials, {epochs_run} epochs in all (of {samples * epochs})")
    print("Best hyperparameters found were: ", best.config)
    print(f"Best validation accuracy: {best.metrics['mean_accuracy']:.3f}")
    model = TuneReportCheckpointCallback.get_model(best.checkpoint)
    x_train, x_test, y_train, y_test = load_digits_as_images()
    print(f"Best model accuracy: {model.evaluate(x_test, y_test, verbose=0)[1]:.3f}")


if __name__ == "__main__":
    main()
