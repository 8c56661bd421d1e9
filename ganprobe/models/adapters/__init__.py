"""Adapters that turn other people's generators into ganprobe's Generator protocol.

module.py wraps any torch module (python: and torchscript: specs share it); stylegan.py reads
NVIDIA pickles; biggan.py wraps pytorch-pretrained-biggan.
"""
