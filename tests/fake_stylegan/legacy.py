"""Stand-in for NVIDIA's legacy.py: load_network_pkl reads a (modern) network pickle."""

import pickle


def load_network_pkl(f, force_fp16=False):
    return pickle.load(f)
