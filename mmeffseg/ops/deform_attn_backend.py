"""Choose the CPU core that mmcv's ``MultiScaleDeformableAttention`` runs.

On CPU, mmcv's module calls the module-level function ``multi_scale_deformable_attn_pytorch``
of ``mmcv.ops.multi_scale_deform_attn``; on GPU it calls its CUDA op and nothing here applies.
Choosing ``'gather'`` rebinds that name to :func:`multi_scale_deformable_attn_gather`, so
*every* deformable attention in the process uses it: mmdet's own pixel decoder (the baseline)
as much as the efficient ones, which keeps latency comparisons fair. ``'mmcv'`` restores
mmcv's function. Nothing changes unless a tool or user asks for it.

Example:
    >>> from mmeffseg.ops import cpu_deform_attn
    >>> with cpu_deform_attn('gather'):
    ...     model(inputs)
"""
import contextlib
from typing import Callable, Dict, Iterator

from .ms_deform_attn_gather import multi_scale_deformable_attn_gather

_FUNCTION_NAME = 'multi_scale_deformable_attn_pytorch'


def _mmcv_module():
    try:
        from mmcv.ops import multi_scale_deform_attn
    except ImportError as err:  # mmcv-lite: no ops, no deformable attention to configure
        raise ImportError('Choosing the CPU deformable-attention core needs mmcv with ops '
                          '(pip install mmcv, not mmcv-lite).') from err
    return multi_scale_deform_attn


_MMCV_MODULE = _mmcv_module()
_MMCV_CORE = getattr(_MMCV_MODULE, _FUNCTION_NAME)

#: The available CPU cores, by name.
CPU_DEFORM_ATTN_IMPLS: Dict[str, Callable] = {
    'mmcv': _MMCV_CORE,
    'gather': multi_scale_deformable_attn_gather,
}


def get_cpu_deform_attn() -> str:
    """The name of the CPU core in use (``'mmcv'``, ``'gather'``, or ``'custom'``)."""
    current = getattr(_MMCV_MODULE, _FUNCTION_NAME)
    for name, fn in CPU_DEFORM_ATTN_IMPLS.items():
        if current is fn:
            return name
    return 'custom'  # somebody else rebound it (e.g. a test double)


def set_cpu_deform_attn(impl: str) -> str:
    """Use the CPU core ``impl`` from now on; return the name of the previous one.

    Args:
        impl (str): ``'mmcv'`` (mmcv's grid_sample loop, the default) or ``'gather'``
            (:func:`multi_scale_deformable_attn_gather`, same results, faster on CPU).
    """
    if impl not in CPU_DEFORM_ATTN_IMPLS:
        raise ValueError(f'Unknown CPU deformable-attention core {impl!r}; choose one of '
                         f'{sorted(CPU_DEFORM_ATTN_IMPLS)}.')
    previous = get_cpu_deform_attn()
    setattr(_MMCV_MODULE, _FUNCTION_NAME, CPU_DEFORM_ATTN_IMPLS[impl])
    return previous


@contextlib.contextmanager
def cpu_deform_attn(impl: str) -> Iterator[None]:
    """Context manager: use the CPU core ``impl`` inside, restore the previous one after."""
    previous = getattr(_MMCV_MODULE, _FUNCTION_NAME)
    set_cpu_deform_attn(impl)
    try:
        yield
    finally:
        setattr(_MMCV_MODULE, _FUNCTION_NAME, previous)
