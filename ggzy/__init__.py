"""ggzy-hub: the data-sharing hub for collaborative supervision of public resource trading."""

__version__ = "0.1.0"
