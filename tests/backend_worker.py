"""Run by test_saving.py in a fresh process under another Keras backend.

Usage: python tests/backend_worker.py DIR
Reads DIR/spec.json (model class and config), DIR/model.weights.h5,
DIR/model.keras and DIR/batch.npy; prints one JSON line with the backend's
reconstructions, deterministic losses and whether the .keras file trains.
"""

import json
import os
import sys

import keras
import numpy as np

import keras_vae


def deterministic_loss(model, batch):
    model.sampler.deterministic = True
    loss = model.compute_loss(x=batch, y_pred=model(batch), training=False)
    model.sampler.deterministic = False
    return float(keras.ops.convert_to_numpy(loss))


def main(directory):
    with open(os.path.join(directory, "spec.json")) as f:
        spec = json.load(f)
    batch = np.load(os.path.join(directory, "batch.npy"))
    cls = getattr(keras_vae, spec["class_name"])
    model = cls.from_config(spec["config"])
    model.load_weights(os.path.join(directory, "model.weights.h5"))
    loaded = keras.saving.load_model(os.path.join(directory, "model.keras"))
    keras_file_loss = deterministic_loss(loaded, batch)
    history = loaded.fit(batch, batch_size=len(batch), epochs=1, verbose=0)
    print(json.dumps({
        "backend": keras.backend.backend(),
        "reconstruction": model.reconstruct(batch).tolist(),
        "loss": deterministic_loss(model, batch),
        "keras_file_loss": keras_file_loss,
        "keras_file_fit_loss": history.history["loss"][0],
        "step_counter": int(keras.ops.convert_to_numpy(loaded.step_counter)),
    }))


if __name__ == "__main__":
    main(sys.argv[1])
