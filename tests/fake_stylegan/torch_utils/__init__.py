"""Stand-in for NVIDIA's torch_utils package."""
