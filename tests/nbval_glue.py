"""pytest plugin for the nbval step (``-p nbval_glue``).

MyST-NB moves the values a chapter glues into the text out of the executed notebook (into a ``.glue.json`` beside
it), but re-executing the cell emits them again, as display data of the ``application/papermill.record/...`` types,
between the cell's printed lines. Those records are removed from the re-run outputs before nbval compares them
with the stored ones, so that the printed text is compared as one stream on both sides. The glued values stay
checked: every one is asserted in a check cell, and the check cells print them in outputs that nbval compares.
"""

from nbval.plugin import IPyNbCell

# The book's extension that writes the stored notebooks (tools/, on the path nbval runs with) decides what a glue
# record is, for the stored outputs and for these re-run ones alike.
from executed_notebooks import is_glue_record

_compare_outputs = IPyNbCell.compare_outputs


def _compare_without_glue(self, test, ref, skip_compare=None):
    return _compare_outputs(self, [o for o in test if not is_glue_record(o)], ref, skip_compare)


IPyNbCell.compare_outputs = _compare_without_glue
