"""pytest plugin for the nbval step (``-p nbval_glue``).

MyST-NB moves the values a chapter glues into the text out of the executed notebook (into a ``.glue.json`` beside
it), but re-executing the cell emits them again, as display data of the ``application/papermill.record/...`` types,
between the cell's printed lines. Those records are removed from the re-run outputs before nbval compares them
with the stored ones, so that the printed text is compared as one stream on both sides. The glued values stay
checked: every one is asserted in a check cell, and the check cells print them in outputs that nbval compares.

It also orders the notebooks longest first, by the execution time the build's cache recorded for each chapter, so
that the two workers of ``-n 2 --dist loadfile`` finish together: in name order the two longest chapters went to
one worker while the other ran out of work.
"""

from pathlib import Path

from jupyter_cache import get_cache

from nbval.plugin import IPyNbCell

# The book's extension that writes the stored notebooks (tools/, on the path nbval runs with) decides what a glue
# record is, for the stored outputs and for these re-run ones alike.
from executed_notebooks import is_glue_record

_compare_outputs = IPyNbCell.compare_outputs


def _compare_without_glue(self, test, ref, skip_compare=None):
    return _compare_outputs(self, [o for o in test if not is_glue_record(o)], ref, skip_compare)


IPyNbCell.compare_outputs = _compare_without_glue


def recorded_seconds(cache: Path) -> dict[str, float]:
    """Seconds each chapter took when the build executed it, by file stem (empty when there is no cache)."""
    if not cache.is_dir():
        return {}
    records = get_cache(cache).list_cache_records()
    return {Path(r.uri).stem: float(r.data.get("execution_seconds", 0.0)) for r in records}


def pytest_collection_modifyitems(session, config, items):
    seconds = recorded_seconds(Path(config.rootpath) / "_build" / ".jupyter_cache")
    items.sort(key=lambda item: -seconds.get(Path(str(item.fspath)).stem, 0.0))
