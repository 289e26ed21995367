"""GPU readiness check for a CUDA machine with Python + torch only (no mmcv, no internet).

What it can check there, without the OpenMMLab stack (mmcv's compiled ops cannot be built
offline), and writes as one JSON file:

1. ``gather_core``: mmeffseg's multi-scale deformable attention gather core
   (``mmeffseg/ops/ms_deform_attn_gather.py``) against a pure-torch ``grid_sample``
   reference written here from the Deformable DETR formula, on the device (max abs diff,
   bar 1e-4), with both timed.
2. ``packed_attention``: the packed-batch attention of ``block_ops.run_attention`` (counts
   given) against the block's own ``nn.MultiheadAttention`` on the same tokens.
3. ``batch_invariance``: per-image token counts / outputs of ALGM (``batch_policy=
   'per_image'``), token pruning and both, alone vs in a mixed batch.
4. ``timing``: a ViT-S/16 at 512x512 (random weights; the host loop of ``ReducerViT``
   repeated here over stand-in blocks with mmseg's attribute layout, so the project's own
   bookkeeping, reducers and block halves run unchanged) for the dense model, ALGM with
   ``batch_policy='min'`` and ``'per_image'``, pruning and ALGM+pruning, at batch 1 and 8,
   with CUDA synchronisation; images/s and the speed-up over dense at the same batch size.
   ``dense_sdpa`` is the dense model with every block on the packed attention path
   (``scaled_dot_product_attention``): the reducers' blocks use it, mmseg's dense blocks
   (``nn.MultiheadAttention`` asked for its weights) do not, so it separates the kernel's
   gain from the token savings.

With the OpenMMLab stack importable, ``gpu_check.sh`` additionally runs the ALGM / pruning
tests. ``--dry-run`` runs everything on the CPU at toy sizes (what the test suite exercises).

Usage:
    python tools/device/gpu_check.py --out work_dirs/gpu_check/gpu_check.json
    python tools/device/gpu_check.py --dry-run --standalone --out /tmp/gpu_check.json
"""
import argparse
import importlib
import json
import platform
import statistics
import sys
import time
import types
from pathlib import Path
from typing import Dict, Optional

import torch
import torch.nn as nn
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parents[2]


# --------------------------------------------------------------------------- imports
def _stub_package(name: str, path: Optional[Path] = None) -> types.ModuleType:
    module = types.ModuleType(name)
    if path is not None:
        module.__path__ = [str(path)]
    sys.modules[name] = module
    return module


def load_pieces(standalone: bool) -> Dict[str, object]:
    """mmeffseg's pure-torch modules, imported without mmcv / mmseg / mmengine if needed.

    Without the stack, mmeffseg's package ``__init__`` files (which register mmseg models)
    are skipped: the packages are stubbed with their real paths, and the registry and
    mmengine's ``print_log`` (the only non-torch names the reducers use) are stand-ins.
    """
    if not standalone:
        try:
            import mmeffseg.models.token_reducers  # noqa: F401
            stack = 'openmmlab'
        except ImportError:
            standalone = True
    if standalone:
        stack = 'standalone (mmeffseg modules imported by path, no mmcv/mmseg)'
        for key in [k for k in sys.modules if k == 'mmeffseg' or k.startswith('mmeffseg.')]:
            del sys.modules[key]
        _stub_package('mmeffseg', ROOT / 'mmeffseg')
        _stub_package('mmeffseg.models', ROOT / 'mmeffseg' / 'models')
        _stub_package('mmeffseg.models.token_reducers',
                      ROOT / 'mmeffseg' / 'models' / 'token_reducers')
        _stub_package('mmeffseg.ops', ROOT / 'mmeffseg' / 'ops')
        registry = _stub_package('mmeffseg.registry')
        registry.TOKEN_REDUCERS = types.SimpleNamespace(register_module=lambda: (lambda c: c))
        try:
            import mmengine.logging  # noqa: F401
        except ImportError:
            _stub_package('mmengine')
            logging = _stub_package('mmengine.logging')
            logging.print_log = lambda *args, **kwargs: None
    names = dict(
        book='mmeffseg.models.token_reducers.token_bookkeeping',
        block_ops='mmeffseg.models.token_reducers.block_ops',
        local='mmeffseg.models.token_reducers.local_window_merge',
        global_='mmeffseg.models.token_reducers.global_bipartite_merge',
        selector='mmeffseg.models.token_reducers.token_selector',
        gather='mmeffseg.ops.ms_deform_attn_gather')
    pieces = {key: importlib.import_module(name) for key, name in names.items()}
    pieces['stack'] = stack
    return pieces


# ------------------------------------------------------------------- stand-in ViT
class StandInAttention(nn.Module):
    """mmcv ``MultiheadAttention``'s interface around ``nn.MultiheadAttention``.

    Like mmcv, it asks ``nn.MultiheadAttention`` for the attention weights (its default), so
    the dense path costs what mmseg's ViT costs.
    """

    def __init__(self, dims: int, heads: int) -> None:
        super().__init__()
        self.attn = nn.MultiheadAttention(dims, heads, batch_first=True)
        self.proj_drop = nn.Identity()
        self.dropout_layer = nn.Identity()
        self.num_heads = heads

    def forward(self, query, identity=None, attn_mask=None, key_padding_mask=None):
        out = self.attn(query, query, query, attn_mask=attn_mask,
                        key_padding_mask=key_padding_mask)[0]
        return (query if identity is None else identity) + out


class StandInFFN(nn.Module):
    """mmcv ``FFN``'s interface: ``identity + layers(x)``."""

    def __init__(self, dims: int, hidden: int) -> None:
        super().__init__()
        self.layers = nn.Sequential(nn.Linear(dims, hidden), nn.GELU(), nn.Linear(hidden, dims))

    def forward(self, x, identity=None):
        return (x if identity is None else identity) + self.layers(x)


class StandInBlock(nn.Module):
    """mmseg ``TransformerEncoderLayer``'s attribute layout (norm1, attn, norm2, ffn)."""

    def __init__(self, dims: int, heads: int, mlp_ratio: int = 4) -> None:
        super().__init__()
        self.norm1, self.norm2 = nn.LayerNorm(dims), nn.LayerNorm(dims)
        self.attn = StandInAttention(dims, heads)
        self.ffn = StandInFFN(dims, dims * mlp_ratio)

    def forward(self, x):
        x = self.attn(self.norm1(x), identity=x)
        return self.ffn(self.norm2(x), identity=x)


class StandInViT(nn.Module):
    """Patch embedding + CLS + blocks, with reducers run as ``ReducerViT`` runs them."""

    def __init__(self, pieces, dims: int, heads: int, depth: int, reducers: Dict[int, nn.Module],
                 patch: int = 16, always_packed_attention: bool = False) -> None:
        super().__init__()
        # True: every block uses the packed attention (SDPA) even on the full grid, to tell
        # the attention kernel's gain apart from the token savings.
        self.always_packed_attention = always_packed_attention
        self.pieces = pieces
        self.patch_embed = nn.Conv2d(3, dims, patch, patch)
        self.cls_token = nn.Parameter(torch.randn(1, 1, dims) * 0.02)
        self.blocks = nn.ModuleList(StandInBlock(dims, heads) for _ in range(depth))
        self.reducers = nn.ModuleDict({str(k): v for k, v in reducers.items()})
        self.norm = nn.LayerNorm(dims)
        self.last_book = None

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        feats = self.patch_embed(images)
        batch, _, h, w = feats.shape
        pos = torch.linspace(-1, 1, h * w, device=images.device)[None, :, None]
        x = torch.cat([self.cls_token.expand(batch, -1, -1),
                       feats.flatten(2).transpose(1, 2) + 0.02 * pos], dim=1)
        book = self.pieces['book'].TokenBookkeeping(batch, (h, w), 1, device=images.device)
        book.fused_attention = self.always_packed_attention
        run_block = self.pieces['block_ops'].run_block
        for i, block in enumerate(self.blocks):
            reducer = self.reducers[str(i)] if str(i) in self.reducers else None
            if reducer is not None:
                x = reducer(block, x, book)
            else:
                x = run_block(block, x, attn_bias=book.attention_bias(),
                              counts=book.attention_counts())
            book.end_block()
        self.last_book = book
        return book.restore_map(self.norm(x))


def build_vit(pieces, method: str, dims: int, heads: int, depth: int, seed: int = 0):
    """One model per method, all with the same backbone weights (seeded)."""
    local, global_, selector = pieces['local'], pieces['global_'], pieces['selector']
    reducers: Dict[int, nn.Module] = {}
    if method.startswith('algm'):
        policy = 'min' if method == 'algm_min' else 'per_image'
        reducers[0] = local.LocalWindowMerge(layer=0, tau=0.88, batch_policy=policy)
        reducers[min(4, depth - 2)] = global_.GlobalBipartiteMerge(
            layer=min(4, depth - 2), batch_policy=policy)
    if method.endswith('pruning'):
        prune = list(range(depth // 2, depth))
        targets = [0.7] * len(prune)
        for layer in prune:
            reducers[layer] = selector.TokenSelector(layer=layer, embed_dims=dims,
                                                     prune_layers=prune, keep_targets=targets)
    torch.manual_seed(seed)
    model = StandInViT(pieces, dims, heads, depth, {})
    state = model.state_dict()
    model = StandInViT(pieces, dims, heads, depth, reducers,
                       always_packed_attention=method == 'dense_sdpa')
    torch.manual_seed(seed + 1)
    for reducer in reducers.values():  # selectors: random weights, roughly 40-90% kept
        if hasattr(reducer, 'scorer'):
            for linear in (reducer.scorer[1], reducer.scorer[3]):
                nn.init.normal_(linear.weight, std=1.0)
                nn.init.normal_(linear.bias, std=1.0)
            with torch.no_grad():
                reducer.scorer[3].bias.copy_(torch.tensor([0.9, 0.0]))
    model.load_state_dict(state, strict=False)
    return model.eval()


def mixed_images(batch: int, size: int, device) -> torch.Tensor:
    """Deterministic images of mixed content: flat regions, gradients, noise, padding."""
    g = torch.Generator().manual_seed(0)
    images = []
    for i in range(batch):
        img = torch.zeros(3, size, size)
        kind = i % 4
        if kind == 0:
            img = torch.randn(3, size, size, generator=g)
        elif kind == 1:
            img[:, :size // 2] = 1.0
            img[:, size // 2:, size // 3:] = -0.5
        elif kind == 2:
            ramp = torch.linspace(-1, 1, size)
            img[:] = ramp[None, :, None] + 0.1 * torch.randn(3, size, size, generator=g)
        else:
            img[:, :size * 2 // 3, :size * 3 // 4] = torch.randn(
                3, size * 2 // 3, size * 3 // 4, generator=g)  # zero padding bottom/right
        images.append(img)
    return torch.stack(images).to(device)


# -------------------------------------------------------------------------- checks
def _sync(device) -> None:
    if device.type == 'cuda':
        torch.cuda.synchronize(device)


def _time(fn, device, warmup: int, repeats: int) -> float:
    for _ in range(warmup):
        fn()
    _sync(device)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        _sync(device)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def grid_sample_reference(value, shapes, locations, weights):
    """Multi-scale deformable attention by ``grid_sample`` per level (the paper's formula)."""
    bs, _, heads, dims = value.shape
    _, queries, _, levels, points, _ = locations.shape
    grids = 2 * locations - 1  # [0, 1] -> [-1, 1] for grid_sample (align_corners=False)
    sampled, start = [], 0
    for level, (h, w) in enumerate(shapes):
        v = value[:, start:start + h * w].permute(0, 2, 3, 1).reshape(bs * heads, dims, h, w)
        grid = grids[:, :, :, level].transpose(1, 2).reshape(bs * heads, queries, points, 2)
        sampled.append(F.grid_sample(v, grid, mode='bilinear', padding_mode='zeros',
                                     align_corners=False))  # (bs*heads, dims, queries, points)
        start += h * w
    stacked = torch.stack(sampled, dim=-2).flatten(-2)  # (bs*heads, dims, queries, L*P)
    attn = weights.transpose(1, 2).reshape(bs * heads, 1, queries, levels * points)
    out = (stacked * attn).sum(-1).view(bs, heads * dims, queries)
    return out.transpose(1, 2)


def check_gather(pieces, device, small: bool, warmup: int, repeats: int) -> dict:
    g = torch.Generator().manual_seed(0)
    shapes = [(16, 16), (8, 8), (4, 4)] if small else [(128, 128), (64, 64), (32, 32)]
    bs, heads, dims, points = 2, 8, 32, 4
    queries = 100 if small else sum(h * w for h, w in shapes)
    keys = sum(h * w for h, w in shapes)
    value = torch.randn(bs, keys, heads, dims, generator=g).to(device)
    loc = (torch.rand(bs, queries, heads, len(shapes), points, 2, generator=g) * 1.2 - 0.1)
    attn = torch.rand(bs, queries, heads, len(shapes), points, generator=g).softmax(-1)
    loc, attn = loc.to(device), attn.to(device)
    spatial = torch.tensor(shapes, device=device)
    gather = pieces['gather'].multi_scale_deformable_attn_gather
    with torch.no_grad():
        ours = gather(value, spatial, loc, attn)
        ref = grid_sample_reference(value, shapes, loc, attn)
        diff = float((ours - ref).abs().max())
        t_ours = _time(lambda: gather(value, spatial, loc, attn), device, warmup, repeats)
        t_ref = _time(lambda: grid_sample_reference(value, shapes, loc, attn), device, warmup,
                      repeats)
    out = dict(max_abs_diff=diff, passed=diff <= 1e-4, shapes=shapes, queries=queries,
               gather_ms=1e3 * t_ours, grid_sample_ms=1e3 * t_ref)
    if device.type == 'cuda':
        try:  # mmcv's CUDA kernel, only where mmcv was built with its ops
            from mmcv.ops.multi_scale_deform_attn import MultiScaleDeformableAttnFunction
        except ImportError as exc:
            out['mmcv_cuda'] = f'not run: {type(exc).__name__}: {exc}'[:200]
        else:
            starts = torch.cat([spatial.new_zeros(1), spatial.prod(1).cumsum(0)[:-1]])
            with torch.no_grad():
                mmcv_out = MultiScaleDeformableAttnFunction.apply(value, spatial, starts, loc,
                                                                  attn, 64)
            mmcv_diff = float((ours - mmcv_out).abs().max())
            out['mmcv_cuda'] = dict(max_abs_diff=mmcv_diff, passed=mmcv_diff <= 1e-4)
            out['passed'] = out['passed'] and mmcv_diff <= 1e-4
    return out


def check_packed_attention(pieces, device) -> dict:
    torch.manual_seed(0)
    block = StandInBlock(64, 4).to(device).eval()
    x = torch.randn(3, 50, 64, device=device)
    run_attention = pieces['block_ops'].run_attention
    with torch.no_grad():
        dense = block.attn(block.norm1(x), identity=x)
        batched = run_attention(block, x, counts=[50, 50, 50])
        packed = run_attention(block, x[:, :30].reshape(1, 90, 64), counts=[30, 30, 30])
        per_image = torch.cat([block.attn(block.norm1(x[i:i + 1, :30]), identity=x[i:i + 1, :30])
                               for i in range(3)], dim=1)
    diffs = [float((batched - dense).abs().max()), float((packed - per_image).abs().max())]
    return dict(max_abs_diff=max(diffs), passed=max(diffs) <= 1e-4)


def check_invariance(pieces, device, dims, heads, depth, size) -> dict:
    # cuDNN's TF32 convolutions (on by default) would perturb the patch embedding by ~1e-3
    # between batch sizes and could flip a merge at the threshold: compare in full fp32.
    tf32 = torch.backends.cudnn.allow_tf32
    torch.backends.cudnn.allow_tf32 = False
    try:
        return _invariance(pieces, device, dims, heads, depth, size)
    finally:
        torch.backends.cudnn.allow_tf32 = tf32


def _invariance(pieces, device, dims, heads, depth, size) -> dict:
    out = {}
    images = mixed_images(4, size, device)
    for method in ('algm_per_image', 'pruning', 'algm_per_image+pruning'):
        model = build_vit(pieces, method, dims, heads, depth).to(device)
        with torch.no_grad():
            batch_out = model(images)
            counts = torch.stack(model.last_book.block_counts, 1).tolist()
            alone, alone_counts = [], []
            for i in range(len(images)):
                alone.append(model(images[i:i + 1]))
                alone_counts.append(torch.stack(model.last_book.block_counts, 1).tolist()[0])
        diff = max(float((batch_out[i] - a[0]).abs().max()) for i, a in enumerate(alone))
        out[method] = dict(counts_equal=counts == alone_counts, max_abs_diff=diff,
                           passed=counts == alone_counts and diff <= 1e-4,
                           final_tokens=[c[-1] for c in counts])
    return out


def time_methods(pieces, device, dims, heads, depth, size, batches, warmup, repeats) -> dict:
    methods = ['dense', 'dense_sdpa', 'algm_min', 'algm_per_image', 'pruning',
               'algm_per_image+pruning']
    models = {m: build_vit(pieces, m, dims, heads, depth).to(device) for m in methods}
    results: Dict[str, dict] = {}
    for batch in batches:
        images = mixed_images(batch, size, device)
        row = {}
        with torch.no_grad():
            for method, model in models.items():
                seconds = _time(lambda: model(images), device, warmup, repeats)
                tokens = torch.stack(model.last_book.block_counts, 1).float()
                row[method] = dict(ms_per_batch=1e3 * seconds, images_per_s=batch / seconds,
                                   mean_tokens_per_block=float(tokens.mean()))
        for method in methods:
            row[method]['speedup_vs_dense'] = (row[method]['images_per_s'] /
                                               row['dense']['images_per_s'])
        results[f'batch_{batch}'] = row
    if len(batches) == 2:
        b1, b8 = (results[f'batch_{b}'] for b in batches)
        results['batch_ratio'] = {
            m: b8[m]['speedup_vs_dense'] / b1[m]['speedup_vs_dense'] for m in methods[1:]}
    return results


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--out', required=True, help='JSON file to write')
    parser.add_argument('--dry-run', action='store_true',
                        help='CPU, toy sizes: checks that the script works end to end')
    parser.add_argument('--standalone', action='store_true',
                        help='import mmeffseg modules by path even if mmseg is importable')
    parser.add_argument('--repeats', type=int, default=None)
    args = parser.parse_args(argv)

    started = time.perf_counter()
    pieces = load_pieces(args.standalone)
    if args.dry_run:
        device = torch.device('cpu')
        dims, heads, depth, size, batches, warmup, repeats = 64, 2, 6, 128, (1, 4), 1, 1
    else:
        if not torch.cuda.is_available():
            raise SystemExit('gpu_check: no CUDA device; use --dry-run on a CPU machine')
        device = torch.device('cuda')
        dims, heads, depth, size, batches, warmup, repeats = 384, 6, 12, 512, (1, 8), 5, 20
    repeats = args.repeats or repeats
    report = dict(
        stack=pieces['stack'], dry_run=args.dry_run, device=str(device),
        device_name=torch.cuda.get_device_name(device) if device.type == 'cuda' else
        platform.processor() or 'cpu', torch=torch.__version__, python=platform.python_version(),
        model=dict(dims=dims, heads=heads, depth=depth, image=size, weights='random'))
    sections = [
        ('gather_core', lambda: check_gather(pieces, device, args.dry_run, warmup, repeats)),
        ('packed_attention', lambda: check_packed_attention(pieces, device)),
        ('batch_invariance', lambda: check_invariance(pieces, device, dims, heads, depth,
                                                      size if args.dry_run else 256)),
        ('timing', lambda: time_methods(pieces, device, dims, heads, depth, size, batches,
                                        warmup, repeats)),
    ]
    for name, run in sections:
        t0 = time.perf_counter()
        try:
            report[name] = run()
        except Exception as exc:  # report and go on: one failure must not hide the rest
            report[name] = dict(error=f'{type(exc).__name__}: {exc}', passed=False)
        report.setdefault('seconds', {})[name] = round(time.perf_counter() - t0, 2)
        print(f'[gpu_check] {name}: {json.dumps(report[name])[:400]}', flush=True)
    report['seconds']['total'] = round(time.perf_counter() - started, 2)
    checks = [report['gather_core'], report['packed_attention']] + list(
        report['batch_invariance'].values() if 'error' not in report['batch_invariance']
        else [report['batch_invariance']])
    report['all_checks_passed'] = all(c.get('passed') for c in checks) and 'error' not in \
        report['timing']
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(report, indent=1, default=float))
    print(f"[gpu_check] wrote {args.out}; all checks passed: {report['all_checks_passed']}")
    return report


if __name__ == '__main__':
    sys.exit(0 if main()['all_checks_passed'] else 1)
