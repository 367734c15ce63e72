"""Worker of the subprocess export route; see `remote.py`."""

import sys

from keras_vae._export.remote import main

sys.exit(main())
