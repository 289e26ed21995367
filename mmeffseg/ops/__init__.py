"""Operators: faster CPU implementations of ops the models use, with identical results."""
from .deform_attn_backend import (CPU_DEFORM_ATTN_IMPLS, cpu_deform_attn, get_cpu_deform_attn,
                                  set_cpu_deform_attn)
from .max_filter import max_filter2d
from .ms_deform_attn_gather import multi_scale_deformable_attn_gather

__all__ = [
    'CPU_DEFORM_ATTN_IMPLS', 'cpu_deform_attn', 'get_cpu_deform_attn', 'set_cpu_deform_attn',
    'max_filter2d', 'multi_scale_deformable_attn_gather'
]
