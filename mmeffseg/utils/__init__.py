from .checkpoint_check import (check_checkpoint_fits, check_state_dict_fits,
                               load_checked_checkpoint, read_checkpoint)
from .progress import progress_bar

__all__ = [
    'check_checkpoint_fits', 'check_state_dict_fits', 'load_checked_checkpoint', 'read_checkpoint',
    'progress_bar'
]
