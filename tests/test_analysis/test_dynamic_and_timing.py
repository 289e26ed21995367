"""Per-image averaging of a dynamic model, dynamic traces, and the timing statistics."""
import time

import pytest
import torch
import torch.nn as nn

from mmeffseg.analysis import (benchmark_model, benchmark_models, collect_dynamic_stats,
                               cost_figures, format_benchmark, latency_stats,
                               measure_model_cost, summarize_dynamic_stats, timing_figures)


class _Book:

    def __init__(self, counts, final):
        self.block_counts = [torch.tensor([c]) for c in counts]
        self.counts = [final]  # tokens at the end, after the last block's merge


class _ToyDynamic(nn.Module):
    """A 'model' whose backbone runs 1 or 3 linear layers depending on the image."""

    def __init__(self):
        super().__init__()
        self.backbone = nn.ModuleList(nn.Linear(4, 4, bias=False) for _ in range(3))
        self.decode_head = nn.Linear(4, 2, bias=False)
        self.last_exits = None

    def _forward(self, inputs, data_samples):
        x = inputs.flatten(1)[:, :4]
        depth = 1 if float(inputs.mean()) < 0.5 else 3
        for layer in self.backbone[:depth]:
            x = layer(x)
        self.last_exits = torch.tensor([depth])
        self.backbone.last_book = _Book([16, 16 if depth == 1 else 9, 9], 12 if depth == 1 else 5)
        return self.decode_head(x)


def _batch(value):
    return dict(inputs=torch.full((1, 3, 2, 2), value), data_samples=[object()])


def test_dynamic_model_averaged_per_image():
    model = _ToyDynamic().eval()
    batches = [_batch(0.0), _batch(1.0), _batch(1.0)]
    summary = measure_model_cost(model, batches, parts=['backbone', 'decode_head'])
    per_image = [e['full'] for e in summary['per_image']]
    assert per_image == [16 + 8, 48 + 8, 48 + 8]
    flops = summary['flops']['full']
    assert flops['min'] == 24 and flops['max'] == 56
    assert flops['mean'] == pytest.approx((24 + 56 + 56) / 3)
    assert summary['by_part']['full']['backbone'] == pytest.approx((16 + 48 + 48) / 3)
    dyn = summary['dynamic']['(model)']
    assert dyn['mean_exit'] == pytest.approx(7 / 3)
    assert dyn['exit_histogram'] == {'1': 1, '3': 2}
    assert summary['dynamic']['backbone']['mean_tokens_per_block'] == pytest.approx(
        [16, (16 + 9 + 9) / 3, 9])
    assert summary['dynamic']['backbone']['mean_final_tokens'] == pytest.approx((12 + 5 + 5) / 3)
    # the figure scripts' flat view of the same summary (GFLOPs)
    figures = cost_figures(summary, dict(backbone='backbone', head='decode_head', x='missing'))
    assert figures['gflops'] == pytest.approx((24 + 56 + 56) / 3 / 1e9)
    assert figures['backbone_gflops'] == pytest.approx((16 + 48 + 48) / 3 / 1e9)
    assert figures['head_gflops'] == figures['head_gflops_paper'] == pytest.approx(8 / 1e9)
    assert figures['x_gflops'] is None
    assert figures['mean_exit'] == pytest.approx(7 / 3)
    assert figures['tokens_per_block'] == pytest.approx([16, (16 + 9 + 9) / 3, 9])
    assert figures['final_tokens'] == pytest.approx((12 + 5 + 5) / 3)


def test_dynamic_stats_batches():
    model = _ToyDynamic()
    model.last_exits = torch.tensor([2, 6])
    stats = collect_dynamic_stats(model)
    assert stats == {'(model)': {'exits': [2, 6]}}
    summary = summarize_dynamic_stats([stats, {'(model)': {'exits': [4]}}])
    assert summary['(model)']['mean_exit'] == 4 and summary['(model)']['num_images'] == 3


def test_latency_stats():
    s = latency_stats([4.0, 1.0, 3.0, 2.0, 5.0])
    assert s['median'] == 3.0 and s['min'] == 1.0 and s['max'] == 5.0
    assert s['q1'] == 2.0 and s['q3'] == 4.0 and s['iqr'] == 2.0 and s['n'] == 5
    with pytest.raises(ValueError):
        latency_stats([])


def test_benchmark_structure_and_parts():
    model = _ToyDynamic().eval()
    batches = [_batch(0.0), _batch(1.0)]
    result = benchmark_model(model, batches, warmup=1, repeats=4,
                             parts=['backbone', 'decode_head'])
    assert result['batch_size'] == 1 and result['latency']['n'] == 4
    assert result['throughput'] > 0
    assert set(result['parts']) == {'backbone', 'decode_head'}
    assert all(s['min'] >= 0 for s in result['parts'].values())
    assert 'whole model' in format_benchmark(result)
    with pytest.raises(ValueError, match='repeats'):
        benchmark_model(model, batches, warmup=0, repeats=0)


class _Sleep(nn.Module):

    def __init__(self, seconds: float = 0.02):
        super().__init__()
        self.seconds = seconds

    def forward(self, x):
        time.sleep(self.seconds)
        return x


class _CallsChildrenDirectly(nn.Module):
    """Like mmdet's Mask2FormerHead: runs ``decoder.layers[i]`` itself, never ``decoder``."""

    def __init__(self):
        super().__init__()
        self.decoder = nn.Module()
        self.decoder.layers = nn.ModuleList([_Sleep(), _Sleep()])
        self.other = _Sleep(0.15)

    def _forward(self, inputs, data_samples=None):
        x = self.other(inputs)
        for layer in self.decoder.layers:
            x = layer(x)
        return x


def test_part_timed_through_its_submodules():
    model = _CallsChildrenDirectly().eval()
    result = benchmark_model(model, [_batch(0.0)], warmup=0, repeats=2,
                             parts=['decoder', 'decoder.layers.1', 'other'])
    parts = result['parts']
    # Sleeps only overshoot (more so on a loaded machine): lower bounds are exact, and the
    # upper bounds compare with the 150 ms part that must not be included.
    decoder, layer1, other = (parts[p]['median'] for p in ('decoder', 'decoder.layers.1', 'other'))
    assert decoder >= 0.04  # two 20 ms layers, not 0
    assert 0.02 <= layer1 < decoder
    assert other >= 0.15 and decoder < other  # the decoder's span holds its layers only


def test_models_timed_interleaved():
    """Every repeat runs each model once (whole series, then the tracked part series)."""
    order = []
    models = [_ToyDynamic().eval(), _ToyDynamic().eval()]
    for tag, model in zip('ab', models):
        model.decode_head.register_forward_hook(lambda m, i, o, _t=tag: order.append(_t))
    results = benchmark_models(models, [[_batch(0.0)], [_batch(1.0), _batch(0.0)]], warmup=1,
                               repeats=3, parts=[['backbone'], None])
    # warm-up a, b; 3 interleaved repeats, each starting with the next model in turn; part
    # series: warm-up + 3 repeats of 'a' only
    assert ''.join(order) == 'ab' + 'ab' + 'ba' + 'ab' + 'a' + 'aaa'
    assert [r['latency']['n'] for r in results] == [3, 3]
    # this test process keeps glibc's default heap, and the results say so
    assert [r['heap'] for r in results] == ['system', 'system']
    assert set(results[0]['parts']) == {'backbone'} and 'parts' not in results[1]
    with pytest.raises(ValueError, match='one batch list'):
        benchmark_models(models, [[_batch(0.0)]])
    with pytest.raises(ValueError, match='same size'):
        benchmark_models(models[:1], [[_batch(0.0), dict(inputs=None, data_samples=[1, 2])]])


class _Scripted(_ToyDynamic):
    """Before each forward, advances a fake counter (clock, page faults) by the next scripted
    amount, so what the timing loop reads does not depend on the machine."""

    def __init__(self, counter: list, amounts: list):
        super().__init__()
        self.counter, self.amounts = counter, iter(amounts)

    def _forward(self, inputs, data_samples):
        self.counter[0] += next(self.amounts)
        return super()._forward(inputs, data_samples)


def test_samples_kept_in_repeat_order(monkeypatch):
    """Per-repeat samples stay in the order they were timed, so rounds can be paired."""
    from mmeffseg.analysis import timing
    clock = [0.0]
    monkeypatch.setattr(timing.time, 'perf_counter', lambda: clock[0])
    # one warm-up, then three timed forwards: long, short, middle
    model = _Scripted(clock, [9.0, 3.0, 1.0, 2.0]).eval()
    latency = benchmark_models([model], [[_batch(0.0)]], warmup=1, repeats=3)[0]['latency']
    assert latency['samples'] == [3.0, 1.0, 2.0] and latency['median'] == 2.0


def test_page_faults_counted_per_forward(monkeypatch):
    """Each whole forward's minor page faults are counted and their median reported (a fake
    counter: the real one depends on the process's heap history, which
    tests/test_foundation/test_heap.py checks in fresh processes)."""
    from mmeffseg.analysis import timing
    faults = [0]
    monkeypatch.setattr(timing, '_minor_faults', lambda: faults[0])
    # warm-up (not counted), then three timed forwards
    model = _Scripted(faults, [999, 10, 30, 20]).eval()
    result = benchmark_models([model], [[_batch(0.0)]], warmup=1, repeats=3)[0]
    assert result['minor_faults'] == 20
    assert 'minor page faults per forward (median): 20' in format_benchmark(result)


def test_progress_bar_counts_every_forward(capsys):
    models = [_ToyDynamic().eval(), _ToyDynamic().eval()]
    benchmark_models(models, [[_batch(0.0)], [_batch(0.0)]], warmup=1, repeats=2,
                     parts=[['backbone'], None], progress=True)
    # whole series: 2 models x 3 forwards; part series: 1 model x 3 forwards
    assert '9/9' in capsys.readouterr().out
    benchmark_models(models, [[_batch(0.0)], [_batch(0.0)]], warmup=0, repeats=1)
    assert capsys.readouterr().out == ''


def test_token_reducer_self_time_reported():
    from mmeffseg.registry import TOKEN_REDUCERS
    classes = list(TOKEN_REDUCERS.module_dict.values())
    if not classes:
        pytest.skip('no token reducer registered')

    class _Reducer(classes[0]):
        # Runs the block it is given, like the real reducers do.
        def __init__(self):
            nn.Module.__init__(self)

        def forward(self, block, x):
            return block(x) * 1.0

    class _Host(nn.Module):

        def __init__(self):
            super().__init__()
            self.backbone = nn.Module()
            self.backbone.block = nn.Linear(4, 4)
            self.backbone.reducer = _Reducer()
            self.decode_head = nn.Identity()

        def _forward(self, inputs, data_samples):
            x = inputs.flatten(1)[:, :4]
            return self.decode_head(self.backbone.reducer(self.backbone.block, x))

    model = _Host().eval()
    # the backbone container is not called itself; time the reducer against the whole model
    result = benchmark_model(model, [_batch(0.0)], warmup=0, repeats=2,
                             parts=['decode_head'])
    red = result['token_reducers']
    assert red['modules'] == ['backbone.reducer'] and red['self_time']['n'] == 2
    assert red['self_time']['min'] >= 0
    flat = timing_figures(result)
    assert flat['latency_median'] == result['latency']['median']
    assert flat['decode_head_iqr'] == result['parts']['decode_head']['iqr']
    assert flat['reducer_self_median'] == red['self_time']['median']
    assert flat['throughput'] == result['throughput']
    # whole-model timing only: no part or reducer figures
    whole = timing_figures(benchmark_model(model, [_batch(0.0)], warmup=0, repeats=1))
    assert set(whole) == {'throughput', 'latency_median', 'latency_iqr', 'latency_per_image'}


def test_timing_figures_per_image_is_the_mean_over_the_batch_size():
    # Batches of 4 images of unequal cost (a dynamic model): per image is the mean batch
    # latency / 4, the time per image over the set; the median stays the batch median.
    result = dict(batch_size=4, throughput=4 / 2.0, latency=latency_stats([1.0, 2.0, 6.0]),
                  parts=dict(backbone=latency_stats([0.4, 0.8, 3.6])))
    flat = timing_figures(result)
    assert flat['latency_per_image'] == pytest.approx(3.0 / 4)
    assert flat['backbone_per_image'] == pytest.approx(1.6 / 4)
    assert (flat['latency_median'], flat['backbone_median']) == (2.0, 0.8)
    assert flat['reducer_self_median'] is None  # parts timed, no token reducer
