from .exit_gate_label_hook import ExitGateLabelHook

__all__ = ['ExitGateLabelHook']
