from tests.kernel.system import sysk

__all__ = ["sysk"]
