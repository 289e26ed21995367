from .hooks import ExitGateLabelHook

__all__ = ['ExitGateLabelHook']
