"""infonet_ros: real-time mutual information between robot data streams with InfoNet."""

# The generated message modules (infonet_ros.msg) are installed by the CMake/rosidl build into
# the environment's site-packages, the Python sources live here; extend_path merges both.
__path__ = __import__("pkgutil").extend_path(__path__, __name__)

__version__ = "0.1.0"
__all__ = ["InfoNetEstimator", "__version__", "tune_malloc"]


def __getattr__(name):
    # Lazy: `import infonet_ros.streams` (node start-up, bag tools) must not pay for torch.
    if name == "InfoNetEstimator":
        from .estimator import InfoNetEstimator

        return InfoNetEstimator
    if name == "tune_malloc":
        from .runtime import tune_malloc

        return tune_malloc
    raise AttributeError(f"module 'infonet_ros' has no attribute {name!r}")
