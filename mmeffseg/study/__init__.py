"""A resumable multi-step study (train, evaluate, measure) written as a config of steps."""
from .study_runner import StaleStepsError, Study, fmt_seconds, run_study
from .steps import STEP_KINDS

__all__ = ['Study', 'StaleStepsError', 'run_study', 'fmt_seconds', 'STEP_KINDS']
