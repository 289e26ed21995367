"""The one way mmeffseg's tools read configs and build models (mmseg ``init_model`` style)."""
from .config_loader import (config_dirs, load_config, model_family, read_config,
                            resolve_config_path)
from .model_builder import build_model, check_device

__all__ = [
    'load_config', 'read_config', 'build_model', 'model_family', 'resolve_config_path',
    'config_dirs', 'check_device'
]
