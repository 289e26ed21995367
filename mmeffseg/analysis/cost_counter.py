"""Count the MACs a model really executes, by module and by category, at the aten level.

:class:`CostCounter` is a context manager. Inside it, every aten op that runs is seen by a
``TorchDispatchMode`` (so data-dependent paths, e.g. merged or pruned tokens or an early exit,
are counted as they ran, and fused kernels such as scaled-dot-product attention or
``nn.MultiheadAttention``'s fast path are seen whole) and its MACs are charged to the innermost
module that was running (tracked by :class:`~.forward_tracker.ForwardTracker`, which also sees
direct ``module.forward(...)`` calls). The core of mmcv's deformable attention is
charged by formula (:mod:`.deform_attn_cost`).
"""
from collections import defaultdict
from typing import Dict, List

import torch
import torch.nn as nn
from torch.utils._python_dispatch import TorchDispatchMode

from .deform_attn_cost import deform_attn_call_macs, is_deform_attn
from .forward_tracker import ForwardTracker
from .op_costs import DEFORM_ATTN_INTERNAL_CATEGORIES, OP_COSTS, total_for_mode

#: Module name used for ops that run outside every named submodule (e.g. in a detector's own
#: ``_forward`` code between the backbone and the head).
OUTSIDE = '(outside modules)'


class _OpDispatch(TorchDispatchMode):
    """Sees every aten op, asks the owning counter to charge it, then runs it."""

    def __init__(self, counter: 'CostCounter') -> None:
        super().__init__()
        self.counter = counter

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        cost_fn = OP_COSTS.get(func._overloadpacket)
        if cost_fn is not None:
            self.counter._charge(cost_fn(args, kwargs, out, self.counter._param_storages))
        return out


class CostCounter:
    """Context manager that counts MACs of a model's forward, per module and category.

    Counts accumulate over every forward run inside the ``with`` block; read them with
    :meth:`by_module` / :meth:`by_category` / :meth:`total`.

    Args:
        model (nn.Module): The model whose submodule names are used for attribution and whose
            parameters define the ``linear`` category (products with a weight operand).

    Example:
        >>> with CostCounter(model) as counter:
        ...     model(inputs)
        >>> counter.total('paper')
    """

    def __init__(self, model: nn.Module) -> None:
        self.model = model
        self.counts: Dict[str, Dict[str, int]] = defaultdict(lambda: defaultdict(int))
        self._stack: List[str] = []
        self._deform_depth = 0
        self._tracker = None
        self._mode = None
        self._param_storages: set = set()

    # ------------------------------------------------------------------ tracking
    def _charge(self, macs: Dict[str, int]) -> None:
        name = self._stack[-1] if self._stack else OUTSIDE
        for category, value in macs.items():
            if self._deform_depth and category in DEFORM_ATTN_INTERNAL_CATEGORIES:
                continue  # the CPU path's grid_sample is inside the formula already
            if value:
                self.counts[name][category] += int(value)

    def _enter(self, name: str, module: nn.Module) -> None:
        self._stack.append(name)
        if is_deform_attn(module):
            self._deform_depth += 1

    def _exit(self, name: str, module: nn.Module, output) -> None:
        if is_deform_attn(module):
            self._deform_depth -= 1
            if output is not None:
                # charged to the module itself, like the ops it owns
                self.counts[name]['deform_attn'] += deform_attn_call_macs(module, output)
        if self._stack and self._stack[-1] == name:
            self._stack.pop()

    # ------------------------------------------------------------------ context
    def __enter__(self) -> 'CostCounter':
        self.counts.clear()
        self._stack.clear()
        self._deform_depth = 0
        self._param_storages = {
            p.untyped_storage().data_ptr()
            for p in self.model.parameters()
        }
        # The root is tracked under OUTSIDE, where ops outside submodules are charged anyway;
        # so a root that is itself a deformable attention gets its core counted too.
        modules = [(OUTSIDE, self.model)] + [(n, m) for n, m in self.model.named_modules() if n]
        self._tracker = ForwardTracker(modules, self._enter, self._exit)
        self._tracker.__enter__()
        self._mode = _OpDispatch(self)
        self._mode.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        self._mode.__exit__(*exc)
        self._mode = None
        self._tracker.__exit__(*exc)
        self._tracker = None

    # ------------------------------------------------------------------ results
    def by_module(self) -> Dict[str, Dict[str, int]]:
        """MACs per module name (innermost running module) and category."""
        return {name: dict(cats) for name, cats in self.counts.items()}

    def by_category(self) -> Dict[str, int]:
        """MACs per category over the whole model."""
        out: Dict[str, int] = defaultdict(int)
        for cats in self.counts.values():
            for category, value in cats.items():
                out[category] += value
        return dict(out)

    def total(self, mode: str = 'full') -> int:
        """Total MACs counted by ``mode`` (see :data:`~.op_costs.COUNT_MODES`)."""
        return total_for_mode(self.by_category(), mode)


@torch.no_grad()
def count_macs(model: nn.Module, fn, *args, **kwargs) -> CostCounter:
    """Run ``fn(*args, **kwargs)`` under a :class:`CostCounter` of ``model`` and return it."""
    with CostCounter(model) as counter:
        fn(*args, **kwargs)
    return counter
