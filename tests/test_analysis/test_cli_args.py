"""The cost tools' shared command line: one parser start, one preparation order."""
import pytest

from mmeffseg.analysis import cli_args, cost_tool_parser, prepare_inputs


def test_parser_has_config_inputs_and_model_args():
    parser = cost_tool_parser('Count things.\nMore text.')
    assert parser.description == 'Count things.'
    args = parser.parse_args(['c.py', '--shape', '8', '16', '--checkpoint', 'w.pth',
                              '--forward', 'predict'])
    assert (args.config, args.shape, args.checkpoint, args.forward) == \
        ('c.py', [8, 16], 'w.pth', 'predict')
    with pytest.raises(SystemExit):  # --shape and --images exclude each other
        parser.parse_args(['c.py', '--shape', '8', '8', '--images', 'a.jpg'])


def test_prepare_inputs_builds_then_describes(monkeypatch):
    calls = []
    monkeypatch.setattr(cli_args, 'prepare', lambda *a: calls.append('prepare') or ('cfg', 'm'))
    monkeypatch.setattr(cli_args, 'input_batches',
                        lambda cfg, model, args: calls.append('batches') or ['b'])
    monkeypatch.setattr(cli_args, 'describe_inputs', lambda args, batches: f'{len(batches)} in')
    args = cost_tool_parser('T').parse_args(['c.py'])
    assert prepare_inputs(args) == ('cfg', 'm', ['b'], '1 in')
    assert calls == ['prepare', 'batches']
