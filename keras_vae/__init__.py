"""keras-vae: variational autoencoders for Keras 3 on TensorFlow, JAX and PyTorch."""

from keras_vae import _backend_check
from keras_vae import _threads

_backend_check.check_backend()
_threads.apply_defaults()  # before Keras imports its backend (OMP_WAIT_POLICY)

from keras_vae import distribute
from keras_vae import divergences
from keras_vae import estimators
from keras_vae import hub
from keras_vae import likelihoods
from keras_vae import networks
from keras_vae import presets
from keras_vae import schedules
from keras_vae._export import export
from keras_vae.callbacks import NonFiniteLossError
from keras_vae.callbacks import StopOnNonFiniteLoss
from keras_vae.distribute import distributed
from keras_vae.hub import upload_preset
from keras_vae.models import AnnealedVAE
from keras_vae.models import BaseVAE
from keras_vae.models import BetaTCVAE
from keras_vae.models import BetaVAE
from keras_vae.models import DIPVAE
from keras_vae.models import FactorVAE
from keras_vae.models import MMDVAE
from keras_vae.models import VAE
from keras_vae.presets import load_preset as from_preset
from keras_vae.presets import save_preset as save_to_preset
from keras_vae.sampling import Sampling

__version__ = "0.1.0"
