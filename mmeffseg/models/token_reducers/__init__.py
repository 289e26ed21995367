from .base_merge_reducer import BaseMergeReducer
from .base_token_reducer import BaseTokenReducer
from .batch_policy import BATCH_POLICIES
from .block_ops import run_attention, run_block, run_ffn
from .global_bipartite_merge import GlobalBipartiteMerge
from .local_window_merge import LocalWindowMerge
from .merged_tokens import MergedTokens
from .token_bookkeeping import TokenBookkeeping

__all__ = [
    'BaseTokenReducer', 'BaseMergeReducer', 'BATCH_POLICIES', 'TokenBookkeeping', 'MergedTokens',
    'run_attention', 'run_ffn', 'run_block', 'LocalWindowMerge', 'GlobalBipartiteMerge'
]
from .token_selector import (  # noqa: E402,F401  (token pruning)
    TokenSelector, set_token_pruning, token_selectors)
