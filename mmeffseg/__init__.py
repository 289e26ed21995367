"""mmeffseg: efficient encoders for universal segmentation, as OpenMMLab modules."""
import os

# mmengine-saved checkpoints pickle more than tensors; torch >= 2.6 refuses them by default.
# Set before any checkpoint is read so users never have to export it themselves.
os.environ.setdefault('TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD', '1')

from .version import __version__  # noqa: E402
from . import registry  # noqa: E402,F401
from . import datasets, engine, evaluation, models, ops  # noqa: E402,F401
from .utils.mmengine_package import register_with_mmengine  # noqa: E402

# `mmeffseg::algm/...` names (get_config, `_base_` of a user's config), as for mmdet / mmseg.
register_with_mmengine()

__all__ = ['__version__']
