"""The shared model contract (`testing.run_vae_model_test`), run for every
`BaseVAE` subclass that `keras_vae` exports.

A new model class exported by `keras_vae` is picked up here by itself; it
needs one entry in `PENALTIES`, its regularizer as the paper writes it (and,
if it needs any, constructor arguments in `VARIANTS`).
"""

import keras
import pytest

import keras_vae
from testing import run_vae_model_test


def _exported_models():
    return sorted(
        (obj for obj in vars(keras_vae).values()
         if isinstance(obj, type) and issubclass(obj, keras_vae.BaseVAE)
         and obj is not keras_vae.BaseVAE),
        key=lambda cls: cls.__name__,
    )


# Constructor arguments of each model's tiny variants (default: one, {}).
VARIANTS = {
    keras_vae.BetaVAE: {"beta4": dict(beta=4.0)},
    keras_vae.AnnealedVAE: {"default": dict(c_max=5.0, iteration_threshold=20)},
    keras_vae.MMDVAE: {"imq": dict(mmd_weight=100.0)},
    keras_vae.BetaTCVAE: {"mss": dict(dataset_size=1000, beta=6.0)},
    # gamma 40 on a 4-dimensional code of 8x8 digits lets the encoder fool
    # the discriminator; 5 keeps the test about the contract.
    keras_vae.FactorVAE: {"gamma5": dict(gamma=5.0)},
    keras_vae.DIPVAE: {"i": dict(variant="i", lambda_od=2.0),
                       "ii": dict(variant="ii", lambda_od=2.0)},
}

# The penalty of each model from its reported (unweighted) terms, as written
# in its paper; `loss == reconstruction_loss + penalty` is the identity.
PENALTIES = {
    # Kingma & Welling 2014, eq. 10.
    keras_vae.VAE: lambda m, t: t["kl_loss"],
    # Higgins et al. 2017, eq. 4 (beta reported, constant schedule).
    keras_vae.BetaVAE: lambda m, t: t["beta"] * t["kl_loss"],
    # Burgess et al. 2018, eq. 8.
    keras_vae.AnnealedVAE: lambda m, t: m.gamma * abs(t["kl_loss"] - t["capacity"]),
    # Zhao et al. 2019 (InfoVAE, alpha = 1).
    keras_vae.MMDVAE: lambda m, t: m.mmd_weight * t["mmd_loss"],
    # Chen et al. 2018, eq. 4.
    keras_vae.BetaTCVAE: lambda m, t: (m.alpha * t["mutual_info"]
                                       + m.beta * t["total_correlation"]
                                       + m.gamma * t["dimwise_kl"]),
    # Kim & Mnih 2018, eq. 2 (the discriminator's loss adds no value).
    keras_vae.FactorVAE: lambda m, t: t["kl_loss"] + m.gamma * t["total_correlation"],
    # Kumar et al. 2018, eqs. 6-7.
    keras_vae.DIPVAE: lambda m, t: (t["kl_loss"] + m.lambda_od * t["dip_off_diagonal"]
                                    + m.lambda_d * t["dip_diagonal"]),
}

CASES = [
    pytest.param(cls, kwargs, id=f"{cls.__name__}-{name}")
    for cls in _exported_models()
    for name, kwargs in VARIANTS.get(cls, {"default": {}}).items()
]


def test_every_exported_model_is_covered():
    names = {cls.__name__ for cls in _exported_models()}
    assert {"VAE", "BetaVAE", "AnnealedVAE", "MMDVAE", "BetaTCVAE", "FactorVAE",
            "DIPVAE"} <= names
    missing = [cls.__name__ for cls in _exported_models() if cls not in PENALTIES]
    assert not missing, f"add the paper's penalty of {missing} to PENALTIES"


@pytest.mark.parametrize("cls, init_kwargs", CASES)
def test_model_contract(cls, init_kwargs, digits, tmp_path):
    if cls not in PENALTIES:
        pytest.fail(f"add the paper's penalty of {cls.__name__} to PENALTIES")
    x, _ = digits
    keras.utils.set_random_seed(0)
    run_vae_model_test(cls, init_kwargs, x, tmp_path, PENALTIES[cls])
