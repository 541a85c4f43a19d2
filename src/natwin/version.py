"""natwin's version, from the installed package metadata."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("natwin")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0+unknown"
