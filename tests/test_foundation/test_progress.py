"""The tools' one progress style: mmengine's ProgressBar on the current stdout."""
from mmeffseg.utils import progress_bar


def test_bar_counts_to_total_and_ends_its_line(capsys):
    step = progress_bar(3)
    step()
    step(2)
    print('next line')
    out = capsys.readouterr().out  # written to the stdout of now (captured), not of import
    assert '3/3' in out and out.endswith('\nnext line\n')
    assert '0/3' in out and '[' in out  # mmengine's bar


def test_hidden_or_empty_bar_writes_nothing(capsys):
    progress_bar(3, show=False)()
    progress_bar(0)()
    assert capsys.readouterr().out == ''
