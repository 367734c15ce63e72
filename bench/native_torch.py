"""Hand-written pure-PyTorch training loop of the keras-vae networks.

The baseline `bench/train_throughput.py` compares `model.fit` against. The
networks are the library's `conv` / `disentanglement` encoder and decoder,
layer for layer (same widths, kernel sizes, strides, TensorFlow-style
`padding="same"`, ReLU, Dense sizes; initialisation differs, which does not
change the speed), written the way a PyTorch user would: NCHW tensors, eager
mode, `torch.optim.Adam(lr=1e-3)`, and per decoder upsampling variant:

- `"transpose"`: `nn.ConvTranspose2d` (stride 2, output twice the input);
- `"subpixel"`: a stride-1 `nn.Conv2d` with 4x the filters, kernel
  `k = ceil(kernel_size / 2)` and `padding=k // 2` at the input resolution,
  then `F.pixel_shuffle(h, 2)` (PyTorch's depth-to-space; it reads the
  channels in another order than keras-vae's `Reshape` / `Permute`, a fixed
  permutation of the convolution's output channels, so the same work), then
  for even `k` a crop of 1 pixel on every side (keras-vae's sub-pixel block,
  see `keras_vae.networks`);
- `"resize"`: `F.interpolate(mode="nearest")` then a stride-1 `nn.Conv2d`.

Where TensorFlow's "same" padding is asymmetric (an odd total padding, e.g.
the stride-2 kernel-3 encoder convolutions of the conv VAE on even sizes: 0
pixels before, 1 after), `SameConv2d` pads explicitly with `F.pad` before an unpadded convolution,
which is also what `nn.Conv2d(padding="same")` does internally.

Loss (as `keras_vae.VAE`): Bernoulli negative log-likelihood with logits
summed over pixels plus the closed-form Gaussian KL summed over latent
dimensions, averaged over the batch, with one reparameterized sample
`z = mu + exp(log_var / 2) * eps` per example.

Data handling mirrors `model.fit(x_numpy, shuffle=True)`: the training set is
a float32 array in memory, a new permutation each epoch, one batch sliced per
step. An epoch is `num_examples` of the config (see `_harness.py`).

Run through `python bench/train_throughput.py --runners torch`; directly:

    python bench/native_torch.py --config dsprites --upsampling subpixel transpose --epochs 3 2
"""

import math
import time

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

import _harness as common  # CONFIGS, NETWORKS, timing helpers


def _same_pad(size, kernel, stride):
    """TensorFlow's 'same' padding (before, after) along one axis."""
    out = math.ceil(size / stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


class SameConv2d(nn.Module):
    """Conv2d with TensorFlow/Keras `padding="same"` for any stride."""

    def __init__(self, cin, cout, kernel, stride, size):
        super().__init__()
        before, after = _same_pad(size, kernel, stride)
        if before == after:
            self.pad = None
            self.conv = nn.Conv2d(cin, cout, kernel, stride, padding=before)
        else:  # asymmetric: pad explicitly, as TensorFlow does
            self.pad = (before, after, before, after)
            self.conv = nn.Conv2d(cin, cout, kernel, stride, padding=0)

    def forward(self, x):
        if self.pad is not None:
            x = F.pad(x, self.pad)
        return self.conv(x)


def _transpose_same(cin, cout, kernel, stride=2):
    """ConvTranspose2d whose output is `stride * input` (Keras "same")."""
    padding = math.ceil((kernel - stride) / 2)
    output_padding = stride - kernel + 2 * padding
    return nn.ConvTranspose2d(cin, cout, kernel, stride, padding=padding,
                              output_padding=output_padding)


class Encoder(nn.Module):
    def __init__(self, shape, latent_dim, filters, kernel, hidden):
        super().__init__()
        h, w, c = shape
        convs = []
        for f in filters:
            convs.append(SameConv2d(c, f, kernel, 2, h))
            h, w, c = math.ceil(h / 2), math.ceil(w / 2), f
        self.convs = nn.ModuleList(convs)
        dense, units_in = [], h * w * c
        for units in hidden:
            dense.append(nn.Linear(units_in, units))
            units_in = units
        self.dense = nn.ModuleList(dense)
        self.z_mean = nn.Linear(units_in, latent_dim)
        self.z_log_var = nn.Linear(units_in, latent_dim)

    def forward(self, x):
        for conv in self.convs:
            x = F.relu(conv(x))
        x = torch.flatten(x, 1)
        for layer in self.dense:
            x = F.relu(layer(x))
        return self.z_mean(x), self.z_log_var(x)


class Decoder(nn.Module):
    def __init__(self, shape, latent_dim, filters, kernel, hidden, upsampling):
        super().__init__()
        height, width, channels = shape
        factor = 2 ** len(filters)
        self.start = (filters[-1], math.ceil(height / factor), math.ceil(width / factor))
        dense, units_in = [], latent_dim
        for units in reversed(hidden):
            dense.append(nn.Linear(units_in, units))
            units_in = units
        self.dense = nn.ModuleList(dense)
        self.projection = nn.Linear(units_in, math.prod(self.start))
        self.upsampling = upsampling
        widths = list(reversed(filters[:-1])) + [channels]
        convs, cin, size = [], filters[-1], self.start[1]
        for f in widths:
            if upsampling == "transpose":
                convs.append(_transpose_same(cin, f, kernel))
            elif upsampling == "subpixel":  # at the input resolution, padded k // 2
                k = math.ceil(kernel / 2)
                convs.append(nn.Conv2d(cin, 4 * f, k, 1, padding=k // 2))
            elif upsampling == "resize":  # at the output resolution
                convs.append(SameConv2d(cin, f, kernel, 1, 2 * size))
            else:
                raise ValueError(f"unknown upsampling {upsampling!r}")
            size *= 2
            cin = f
        self.convs = nn.ModuleList(convs)
        self.crop = (self.start[1] * factor - height, self.start[2] * factor - width)

    def forward(self, z):
        h = z
        for layer in self.dense:
            h = F.relu(layer(h))
        h = F.relu(self.projection(h)).view(-1, *self.start)
        for i, conv in enumerate(self.convs):
            if self.upsampling == "resize":
                h = F.interpolate(h, scale_factor=2, mode="nearest")
            h = conv(h)
            if self.upsampling == "subpixel":
                h = F.pixel_shuffle(h, 2)  # (N, 4f, H', W') -> (N, f, 2H', 2W')
                if conv.kernel_size[0] % 2 == 0:  # H' = H + 1: crop to 2H
                    h = h[:, :, 1:-1, 1:-1]
            if i < len(self.convs) - 1:
                h = F.relu(h)
        ch, cw = self.crop
        if ch or cw:
            h = h[:, :, ch // 2: h.shape[2] - (ch - ch // 2),
                  cw // 2: h.shape[3] - (cw - cw // 2)]
        return h


class VAE(nn.Module):
    def __init__(self, input_shape, latent_dim, architecture, upsampling):
        super().__init__()
        net = common.NETWORKS[architecture]
        args = (input_shape, latent_dim, net["filters"], net["kernel_size"],
                net["hidden_units"])
        self.encoder = Encoder(*args)
        self.decoder = Decoder(*args, upsampling)

    def loss(self, x):
        z_mean, z_log_var = self.encoder(x)
        z = z_mean + torch.exp(0.5 * z_log_var) * torch.randn_like(z_mean)
        logits = self.decoder(z)
        nll = F.binary_cross_entropy_with_logits(logits, x, reduction="none")
        reconstruction = nll.sum(dim=(1, 2, 3)).mean()
        kl = 0.5 * (z_mean.square() + z_log_var.exp() - 1.0 - z_log_var)
        return reconstruction + kl.sum(dim=1).mean()


def measure(config_name, upsampling, epochs):
    """Warm-up epoch(s), then `epochs` timed epochs; returns a result dict."""
    config = common.CONFIGS[config_name]
    torch.manual_seed(0)
    model = VAE(config["input_shape"], config["latent_dim"],
                config["architecture"], upsampling)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    n, batch_size = config["num_examples"], config["batch_size"]
    x = common.random_images(config)  # (n, H, W, C) float32
    x = torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2)))  # NCHW
    rng = np.random.default_rng(0)

    def step(batch):
        optimizer.zero_grad(set_to_none=True)
        loss = model.loss(batch)
        loss.backward()
        optimizer.step()
        return loss.detach()

    start = time.perf_counter()
    for i in range(config["warmup_steps"]):  # warm-up, as model.fit's
        step(x[i * batch_size:(i + 1) * batch_size])
    warmup_s = time.perf_counter() - start
    times, losses = [], []
    for epoch in range(epochs):
        start = time.perf_counter()
        order = torch.from_numpy(rng.permutation(n))
        total = torch.zeros(())
        for i in range(0, n, batch_size):
            total += step(x[order[i:i + batch_size]])
        losses.append(float(total) / math.ceil(n / batch_size))
        times.append(time.perf_counter() - start)
    return common.result_row(
        runner="torch", config=config_name, upsampling=upsampling,
        variant="eager",
        times=times, n=n, losses=losses, warmup_s=round(warmup_s, 2),
        versions={"torch": torch.__version__}, threads=torch.get_num_threads())


if __name__ == "__main__":
    common.native_main(measure, __doc__)
