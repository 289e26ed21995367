"""Logs which encoder exits an early-exit model took on the validation / test images."""
from collections import Counter
from typing import Optional, Sequence

from mmdet.registry import HOOKS as MMDET_HOOKS
from mmengine.dist import all_gather_object, get_world_size
from mmengine.hooks import Hook
from mmseg.registry import HOOKS as MMSEG_HOOKS


@MMSEG_HOOKS.register_module()
@MMDET_HOOKS.register_module()
class ExitStatisticsHook(Hook):
    """Average exit and exit histogram over an evaluation (ECO-M2F inference).

    Reads ``metainfo['exit_layers']`` of every prediction (written by ``EcoM2F`` and
    ``EcoM2FSegmentor``) and, at the end of each validation / test run, logs the mean exit and
    the number of images per exit, gathered over all ranks. Predictions without the key are ignored.
    """

    priority = 'LOW'

    def __init__(self) -> None:
        self._exits = []

    def _reset(self, runner) -> None:
        self._exits = []

    def _collect(self, outputs: Optional[Sequence]) -> None:
        for out in outputs or []:
            meta = getattr(out, 'metainfo', {})
            if 'exit_layers' in meta:
                self._exits.append(int(meta['exit_layers']))

    def _report(self, runner, mode: str) -> None:
        exits = list(self._exits)
        if get_world_size() > 1:
            exits = [e for part in all_gather_object(exits) for e in part]
        if not exits:
            return
        hist = Counter(exits)
        runner.logger.info(
            f'ECO-M2F {mode}: mean exit {sum(exits) / len(exits):.3f} over {len(exits)} images; '
            + ', '.join(f'exit {k}: {hist[k]}' for k in sorted(hist)))

    before_val_epoch = _reset
    before_test_epoch = _reset

    def after_val_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
        """Remember the exits of this batch."""
        self._collect(outputs)

    def after_test_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
        """Remember the exits of this batch."""
        self._collect(outputs)

    def after_val_epoch(self, runner, metrics=None) -> None:
        """Log the mean exit and histogram."""
        self._report(runner, 'val')

    def after_test_epoch(self, runner, metrics=None) -> None:
        """Log the mean exit and histogram."""
        self._report(runner, 'test')
