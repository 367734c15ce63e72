"""The VAE family: one small file per model, each differing only in its regularizer."""

from keras_vae.models.annealed_vae import AnnealedVAE
from keras_vae.models.base import BaseVAE
from keras_vae.models.beta_tcvae import BetaTCVAE
from keras_vae.models.beta_vae import BetaVAE
from keras_vae.models.dip_vae import DIPVAE
from keras_vae.models.factor_vae import FactorVAE
from keras_vae.models.mmd_vae import MMDVAE
from keras_vae.models.vae import VAE
