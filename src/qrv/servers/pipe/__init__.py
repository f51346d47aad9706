"""pipe: the pipe resource manager (QNX's ``pipe`` server)."""
