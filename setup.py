"""Maps the repository's top-level zoo/ (recipes, presets, figures) onto the
package `keras_vae.zoo`, so an installed wheel carries the zoo. Everything
else is configured in pyproject.toml."""

from setuptools import find_packages
from setuptools import setup

setup(
    packages=find_packages(include=["keras_vae", "keras_vae.*"]) + ["keras_vae.zoo"],
    package_dir={"keras_vae.zoo": "zoo"},
    package_data={"keras_vae.zoo": ["README.md", "recipes/*.py", "presets/*/*", "figures/*/*"]},
)
