"""Where the zoo (recipes, presets, figures) lives.

In a source checkout the zoo is the repository's top-level `zoo/` beside the
package; an installed wheel carries the same folder as the package data
`keras_vae/zoo/` (see setup.py). The installed copy wins when both exist.
"""

import os

_PACKAGE = os.path.dirname(os.path.abspath(__file__))


def zoo_dir():
    """The folder holding `recipes/` and `presets/`."""
    installed = os.path.join(_PACKAGE, "zoo")
    if os.path.isdir(installed):
        return installed
    return os.path.join(os.path.dirname(_PACKAGE), "zoo")
