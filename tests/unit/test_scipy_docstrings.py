"""The ``tuner`` command keeps SciPy's docstrings as written (a faster ``import sklearn``)."""

import subprocess
import sys

PROBE = """
import sys
{before}
import scipy.stats, sklearn.model_selection
doc = scipy.stats.skew.__doc__
print("note" if "Array API Standard Support" in doc else "as written", doc.strip().splitlines()[0])
print(scipy.stats.skew([1.0, 2.0, 10.0]) > 0)
"""


def _probe(before: str) -> list[str]:
    out = subprocess.run([sys.executable, "-c", PROBE.format(before=before)], capture_output=True, text=True,
                         check=True)
    return out.stdout.splitlines()


def test_scipy_keeps_its_docstrings_as_written_in_the_commands_processes_only():
    plain = _probe("")
    quick = _probe("import tuner.scipy_docstrings")
    assert plain[0].startswith("note ")  # SciPy appends its array-API table where nothing applied
    assert quick[0].startswith("as written ")
    assert plain[0].split(" ", 1)[1] == quick[0].split(" ", 2)[2]  # the same first line of the doc
    assert plain[1] == quick[1] == "True"  # and the function works the same
    assert _probe("import tuner")[0].startswith("note ")  # library use of tuner leaves SciPy alone


def test_nothing_changes_once_scipy_stats_is_imported():
    out = _probe("import scipy.stats\nfrom tuner import scipy_docstrings\nprint(scipy_docstrings.apply())")
    assert out[0] == "False" and out[1].startswith("note ")
