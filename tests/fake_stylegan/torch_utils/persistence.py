"""Stand-in for torch_utils.persistence: the real one embeds class source code in pickles;
this one only marks the class."""


def persistent_class(cls):
    cls._persistent = True
    return cls
