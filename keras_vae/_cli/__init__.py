"""The subcommands of the `keras-vae` command line (`keras_vae.cli`).

`arguments`: argument types and the arguments several commands share;
`runs`: train, evaluate and study; `figures`: sample, reconstruct and
traverse; `presets`: presets, export and demo.
"""
