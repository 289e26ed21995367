from .checkpoint_check import check_checkpoint_fits, load_checked_checkpoint, read_checkpoint

__all__ = ['check_checkpoint_fits', 'load_checked_checkpoint', 'read_checkpoint']
