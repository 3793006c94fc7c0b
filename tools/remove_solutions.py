"""A Sphinx extension for the student edition: every exercise solution, with what is inside it, leaves the pages.

sphinx-exercise's own ``hide_solutions`` option cannot do this for gated solutions (``solution-start`` …
``solution-end``, which every chapter uses so that a solution can hold code cells): in sphinx-exercise 1.2.1 it
drops the start, keeps the content as ordinary text and code, and then fails on the orphaned end node. So the student
edition leaves that option off and lets sphinx-exercise merge each gated solution into one solution node, then
removes those nodes whole.
"""

from sphinx.application import Sphinx
from sphinx.transforms import SphinxTransform
from sphinx_exercise.nodes import solution_node
from sphinx_exercise.transforms import MergeGatedSolutions


class RemoveSolutions(SphinxTransform):
    """Remove every solution node, once sphinx-exercise has merged the gated ones."""

    default_priority = MergeGatedSolutions.default_priority + 1

    def apply(self) -> None:
        for node in list(self.document.findall(solution_node)):
            node.parent.remove(node)


def setup(app: Sphinx) -> dict:
    app.setup_extension("sphinx_exercise")
    app.add_transform(RemoveSolutions)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
