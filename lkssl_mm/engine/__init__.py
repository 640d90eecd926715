"""Engine pieces: hooks, training loops, optimizer wrappers/constructors, the run-length runner."""
from .hooks import *  # noqa: F401,F403
from .loops import ResumableEpochBasedTrainLoop  # noqa: F401
from .optimizers import *  # noqa: F401,F403
from .run_length import RunLengthRunner, fit_run_length  # noqa: F401
