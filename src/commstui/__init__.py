"""commstui: find a customer and talk to them, from a terminal."""

__version__ = "0.1.0"
