"""A peer library in the training benchmark: pythae's VAE with the
keras-vae networks as its custom encoder and decoder.

`bench/train_throughput.py --runners pythae` (one process, as the native
loops) times pythae (https://github.com/clementchadebec/benchmark_VAE) the
way its users train: `pythae.models.VAE` with `reconstruction_loss="bce"`,
trained by `pythae.trainers.BaseTrainer` (its `DataLoader` over a
`BaseDataset`, `torch.optim.Adam(lr=1e-3)`, batch size of the
configuration, no evaluation set, `keep_best_on_train=True` since pythae
keeps a copy of the best model each epoch and needs one of the two). The
encoder and decoder are `bench/native_torch.py`'s, i.e. the library's
networks layer for layer, wrapped in pythae's `BaseEncoder` /
`BaseDecoder`; the decoder ends in a sigmoid because pythae's BCE takes
probabilities. The loss is then the library's: BCE summed over pixels plus
the closed-form Gaussian KL, batch mean, one reparameterized sample.

The data are the configuration's random images (NCHW float32), as for the
other runners. pythae's trainer runs `1 + epochs` epochs of `num_examples`
images: the first (its sanity check, allocator warm-up) is not timed, then
each epoch is timed from pythae's `on_epoch_begin` to `on_epoch_end`
callbacks (its per-epoch best-model copy included, as in the Keras epochs
`fit`'s per-epoch costs are). Threads and `OMP_WAIT_POLICY` as for pure
PyTorch.

pythae is not a dependency of keras-vae: without it installed, the runner
reports a skipped row (`pip install pythae`; pin your torch, e.g.
`pip install pythae torch==2.13.0`, so that pip does not replace it).

    python bench/pythae_peer.py --config fashion_mnist --upsampling transpose --epochs 3
"""

import contextlib
import io
import logging
import os
import tempfile
import time

import _harness as common

SKIP_REASON = ("pythae is not installed (it is not a keras-vae dependency): "
               "`pip install pythae torch==<your torch>` to measure it")


def _available():
    try:
        import pythae  # noqa: F401
    except ImportError:
        return False
    return True


def _pythae_model(config):
    import torch
    from pythae.models import VAE
    from pythae.models import VAEConfig
    from pythae.models.base.base_utils import ModelOutput
    from pythae.models.nn import BaseDecoder
    from pythae.models.nn import BaseEncoder

    import native_torch

    class Encoder(BaseEncoder):
        def __init__(self, net):
            super().__init__()
            self.net = net

        def forward(self, x):
            z_mean, z_log_var = self.net(x)
            return ModelOutput(embedding=z_mean, log_covariance=z_log_var)

    class Decoder(BaseDecoder):
        def __init__(self, net):
            super().__init__()
            self.net = net

        def forward(self, z):
            return ModelOutput(reconstruction=torch.sigmoid(self.net(z)))

    def build(upsampling):
        ours = native_torch.VAE(config["input_shape"], config["latent_dim"],
                                config["architecture"], upsampling)
        h, w, c = config["input_shape"]
        model_config = VAEConfig(input_dim=(c, h, w), latent_dim=config["latent_dim"],
                                 reconstruction_loss="bce")
        return VAE(model_config, encoder=Encoder(ours.encoder), decoder=Decoder(ours.decoder))

    return build


def measure(config_name, upsampling, epochs):
    """pythae's BaseTrainer on a configuration: 1 untimed + `epochs` timed
    epochs; returns a result row (or a skipped row without pythae)."""
    if not _available():
        return {"runner": "pythae", "config": config_name, "upsampling": upsampling,
                "variant": "BaseTrainer", "skipped": True, "error": "not run: " + SKIP_REASON}
    import numpy as np
    import pythae
    import torch
    from pythae.data.datasets import BaseDataset
    from pythae.trainers import BaseTrainer
    from pythae.trainers import BaseTrainerConfig
    from pythae.trainers.training_callbacks import TrainingCallback

    for name in list(logging.root.manager.loggerDict):  # pythae logs every epoch
        if name.startswith("pythae"):
            logging.getLogger(name).setLevel(logging.WARNING)
    config = common.CONFIGS[config_name]
    torch.manual_seed(0)
    model = _pythae_model(config)(upsampling)
    x = common.random_images(config).transpose(0, 3, 1, 2)  # NCHW
    x = torch.from_numpy(np.ascontiguousarray(x))
    dataset = BaseDataset(x, torch.zeros(len(x)))

    class EpochClock(TrainingCallback):
        def __init__(self):
            self.times, self.losses, self._start = [], [], None

        def on_epoch_begin(self, training_config, **kwargs):
            self._start = time.perf_counter()

        def on_epoch_end(self, training_config, **kwargs):
            self.times.append(time.perf_counter() - self._start)

        def on_log(self, training_config, logs, **kwargs):
            if "train_epoch_loss" in logs:
                self.losses.append(float(logs["train_epoch_loss"]))

    clock = EpochClock()
    with tempfile.TemporaryDirectory() as out:
        trainer_config = BaseTrainerConfig(
            output_dir=out, num_epochs=1 + epochs, learning_rate=1e-3,
            per_device_train_batch_size=config["batch_size"], optimizer_cls="Adam",
            keep_best_on_train=True, no_cuda=True, seed=0)
        trainer = BaseTrainer(model=model, train_dataset=dataset,
                              training_config=trainer_config, callbacks=[clock])
        with contextlib.redirect_stdout(io.StringIO()):  # pythae's progress lines
            trainer.train()
    return common.result_row(
        runner="pythae", config=config_name, upsampling=upsampling, variant="BaseTrainer",
        times=clock.times[1:], n=config["num_examples"], losses=clock.losses[1:],
        warmup_s=round(clock.times[0], 2),
        versions={"pythae": getattr(pythae, "__version__", None) or _version(),
                  "torch": torch.__version__},
        threads=torch.get_num_threads(), omp_wait_policy=os.environ.get("OMP_WAIT_POLICY"),
        gomp_spincount=os.environ.get("GOMP_SPINCOUNT"))


def _version():
    from importlib import metadata

    try:
        return metadata.version("pythae")
    except metadata.PackageNotFoundError:
        return None


if __name__ == "__main__":
    common.native_main(measure, __doc__)
