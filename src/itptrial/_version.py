from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("itptrial")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0+unknown"
