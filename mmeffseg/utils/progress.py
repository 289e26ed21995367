"""The tools' one progress style: mmengine's ``ProgressBar`` on the current stdout."""
import sys
from typing import Callable

from mmengine.utils import ProgressBar


def progress_bar(total: int, show: bool = True) -> Callable[..., None]:
    """mmengine's progress bar over ``total`` steps; returns its ``update(num=1)``.

    The bar writes to the current ``sys.stdout`` (``ProgressBar``'s default is the stdout of
    import time) and ends its line when the last step is done, so that the next printed line
    starts on a line of its own. With ``show=False`` (or nothing to do) the update is a no-op.
    """
    if not show or total < 1:
        return lambda num=1: None
    bar = ProgressBar(total, file=sys.stdout)

    def update(num: int = 1) -> None:
        bar.update(num)
        if bar.completed >= total:
            bar.file.write('\n')
            bar.file.flush()
    return update
