"""Encoder latency of an ECO-M2F model at every fixed exit, measured in one run.

Prepares the deformable encoder's inputs for one batch (the pixel decoder's
``encoder_inputs``), then times the encoder alone with every image forced to exit after k
layers, for each k, through the library's interleaved timing loop
(:func:`mmeffseg.analysis.timing.benchmark_models`: every run alternates over the exits, so load
changes on a shared machine hit all exits alike). Prints, per exit, the median time, its ratio
to the full encoder and the ideal ratio k / num_layers::

    python tools/ecom2f/exit_timing.py \\
        configs/ecom2f/ecom2f-parent_r18-lite_1xb2-500i_coco128-panoptic.py \\
        --shape 512 512 --rounds 5 --repeats 3
"""
import torch
import torch.nn as nn

from mmeffseg.analysis import cost_tool_parser, prepare_inputs, run_cli, write_json
from mmeffseg.analysis.timing import CALL_BATCH, TimedCall, benchmark_models


def parse_args(argv=None):
    parser = cost_tool_parser(
        __doc__, config_help='an ECO-M2F config (model with an early-exit decoder): a file, '
        "a config name, or 'mmdet::...' / 'mmseg::...' / 'mmeffseg::...'")
    parser.add_argument('--exits', type=int, nargs='+',
                        help='exits to time (default: 1..num_layers)')
    parser.add_argument('--warmup', type=int, default=2, help='untimed runs per exit first')
    parser.add_argument('--rounds', type=int, default=5, help='rounds over all exits')
    parser.add_argument('--repeats', type=int, default=3,
                        help='timed runs per exit and round (the exits alternate run by run)')
    parser.add_argument('--out', help='write the result as JSON here')
    return parser.parse_args(argv)


def encoder_call(model, batch: dict) -> tuple:
    """The model's exit encoder and its keyword arguments for one batch (backbone run once)."""
    decoder = getattr(model, 'pixel_decoder', None)
    if decoder is None or not hasattr(decoder, 'encoder_inputs'):
        raise ValueError('The model has no ECO-M2F pixel decoder; use an EcoM2F (mmdet) or '
                         'EcoM2FSegmentor (mmseg) config.')
    with torch.no_grad():
        kwargs = decoder.encoder_inputs(model.extract_feat(batch['inputs']))
    return decoder.encoder, kwargs


def run_at_exit(encoder: nn.Module, kwargs: dict, exit: int):
    """A call of the encoder on fixed inputs with every image forced to exit after ``exit``
    layers."""
    query = kwargs['query']
    layers = torch.full((query.shape[0], ), exit, dtype=torch.long, device=query.device)
    return lambda: encoder(**kwargs, num_layers_per_image=layers)


def main(argv=None):
    args = parse_args(argv)
    if args.warmup < 0 or args.rounds < 1 or args.repeats < 1:
        raise ValueError('Need --warmup >= 0, --rounds >= 1 and --repeats >= 1.')
    # The first batch of the inputs asked for (--shape, --num-images or --images).
    _, model, batches, _ = prepare_inputs(args)
    encoder, kwargs = encoder_call(model, batches[0])
    num_layers = len(encoder.layers)
    exits = args.exits or list(range(1, num_layers + 1))
    if num_layers not in exits:
        exits = exits + [num_layers]  # the reference
    bad = [k for k in exits if not 1 <= k <= num_layers]
    if bad:
        raise ValueError(f'--exits {bad} outside 1..{num_layers}.')
    batch_size = kwargs['query'].shape[0]
    device = kwargs['query'].device
    runs = [TimedCall(run_at_exit(encoder, kwargs, k), encoder) for k in exits]
    with torch.no_grad():
        results = benchmark_models(runs, [[CALL_BATCH]] * len(runs), args.warmup,
                                   args.rounds * args.repeats)
    times = {k: r['latency'] for k, r in zip(exits, results)}
    full = times[num_layers]['median']
    rows = []
    print(f'{args.config}: encoder of {num_layers} layers, {kwargs["query"].shape[1]} tokens, '
          f'batch {batch_size}, device {device}, {args.rounds} rounds x {args.repeats} runs, '
          'exits interleaved')
    print(f'{"exit":>4} {"median ms":>10} {"ratio":>7} {"k/" + str(num_layers):>7} '
          f'{"deviation":>9}')
    for k in exits:
        med = times[k]['median']
        ideal = k / num_layers
        dev = (med / full - ideal) / ideal
        rows.append(dict(exit=k, median_s=med, ratio=med / full, ideal=ideal, deviation=dev,
                         n=times[k]['n']))
        print(f'{k:>4} {med * 1e3:>10.2f} {med / full:>7.3f} {ideal:>7.3f} {dev * 100:>8.1f}%')
    if args.out:
        write_json(args.out, dict(config=args.config, num_layers=num_layers,
                                  tokens=int(kwargs['query'].shape[1]), batch_size=batch_size,
                                  device=str(device), rows=rows))


if __name__ == '__main__':
    run_cli(main, 'exit_timing.py')
