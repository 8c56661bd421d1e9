"""Stand-in for NVIDIA's dnnlib (only what a pickle needs to exist)."""


class EasyDict(dict):
    """dict with attribute access."""

    def __getattr__(self, name):
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None
