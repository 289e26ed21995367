"""Checks the ECO-M2F quality table against the training set and logs the gate labels."""
from typing import Dict, List

from mmdet.registry import HOOKS as MMDET_HOOKS
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmseg.registry import HOOKS as MMSEG_HOOKS

from mmeffseg.models.eco_m2f_steps import image_id_of


@MMSEG_HOOKS.register_module()
@MMDET_HOOKS.register_module()
class ExitGateLabelHook(Hook):
    """Before gate training (ECO-M2F Step C), validate the labels and print their histogram.

    The quality table must cover every training image (a clear error names the table file
    and the first missing image), and the dataset and parent checkpoint the table records must
    be the config's ``train_dataloader`` and ``load_from`` (unless
    ``model.quality_table_check=False``). The histogram counts, per exit, the training images whose
    label ``argmax_k(q_k - beta * k)`` is that exit; it shows at a glance what ``beta`` asks
    the gate to learn. Does nothing for a model that is not in ``train_mode='gate'``.
    """

    priority = 'LOW'

    def before_train(self, runner) -> None:
        """Validate the table against the training set and log the label histogram."""
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        if getattr(model, 'train_mode', None) != 'gate':
            return
        img_ids = training_image_ids(runner.train_dataloader.dataset)
        table = model.quality_table
        cfg = getattr(runner, 'cfg', None)
        if cfg is not None and getattr(model, 'quality_table_check', True):
            # Ids covering the training set do not prove the table is for it and this parent.
            unchecked = table.check_source(cfg.get('train_dataloader', {}).get('dataset'),
                                           cfg.get('load_from', None))
            if unchecked:
                runner.logger.warning(f'Quality table {table.path} records no '
                                      f'{" / ".join(unchecked)}; not checked against the config '
                                      f'(tables of build_quality_table.py record both).')
        table.check_covers(img_ids)
        hist = table.histogram(model.beta, img_ids)
        runner.logger.info(format_histogram(hist, model.beta, table.path))


def training_image_ids(dataset) -> List:
    """Unique image key (``img_id``, else the ``img_path`` stem) of every sample of a
    (possibly wrapped) dataset, in order."""
    seen, ids = set(), []
    for i in range(len(dataset)):
        img_id = image_id_of(dataset.get_data_info(i))
        if img_id not in seen:
            seen.add(img_id)
            ids.append(img_id)
    return ids


def format_histogram(hist: Dict[int, int], beta: float, path: str) -> str:
    """One readable line per exit: layer count, number of images, share."""
    total = max(sum(hist.values()), 1)
    lines = [f'ECO-M2F gate labels (beta={beta:g}, table {path}, {sum(hist.values())} images):']
    lines += [f'  exit {k}: {n:7d} ({100.0 * n / total:5.1f}%)' for k, n in hist.items()]
    return '\n'.join(lines)
