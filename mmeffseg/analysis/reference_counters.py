"""The same forward counted by the two counters people compare against.

* ``torch.utils.flop_counter.FlopCounterMode``: torch's formula registry (matrix products,
  convolutions, fused attention), 2 FLOPs per multiply-add; halved here.
* mmengine's ``FlopAnalyzer`` (what mmdet's and mmseg's get_flops print): fvcore's JIT-trace
  counter, 1 FLOP per multiply-add; it also counts norms, ``grid_sampler`` and upsampling.

Both see what :func:`~.model_inputs.run_network` runs, so their totals can be set beside the
modes of :data:`~.op_costs.COUNT_MODES` (docs/cost_tools.md).
"""
from typing import Dict, Optional

import torch
import torch.nn as nn

from .model_inputs import run_network


class _Network(nn.Module):
    """``model`` as a module of the images alone (what a JIT trace can call)."""

    def __init__(self, model: nn.Module, data_samples, forward: str) -> None:
        super().__init__()
        self.model, self.data_samples, self.mode = model, data_samples, forward

    def forward(self, inputs: torch.Tensor):
        return run_network(self.model, dict(inputs=inputs, data_samples=self.data_samples),
                           self.mode)


@torch.no_grad()
def reference_flops(model: nn.Module, batch: dict,
                    forward: str = 'tensor') -> Dict[str, Optional[float]]:
    """Multiply-adds of one preprocessed batch by torch's and mmengine's counters.

    Returns:
        dict: ``{'torch FlopCounterMode / 2': ..., 'mmengine FlopAnalyzer': ...}``; the
        analyzer's value is None where its JIT trace cannot follow the forward (a ``predict``
        forward returns data samples, which a trace cannot carry).
    """
    from mmengine.analysis import FlopAnalyzer
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as torch_counter:
        run_network(model, batch, forward)
    analyzer = FlopAnalyzer(_Network(model, batch['data_samples'], forward), (batch['inputs'], ))
    analyzer.unsupported_ops_warnings(False).uncalled_modules_warnings(False)
    try:
        analyzed: Optional[float] = float(analyzer.total())
    except RuntimeError:
        if forward == 'tensor':
            raise
        analyzed = None
    return {'torch FlopCounterMode / 2': torch_counter.get_total_flops() / 2,
            'mmengine FlopAnalyzer': analyzed}
