"""Engine pieces: hooks, optimizer wrappers/constructors and the run-length runner."""
from .hooks import *  # noqa: F401,F403
from .optimizers import *  # noqa: F401,F403
from .run_length import RunLengthRunner, fit_run_length  # noqa: F401
