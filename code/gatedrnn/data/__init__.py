"""What the networks learn from: the synthetic long-range tasks and the 8×8 digits (:mod:`.tasks`), characters of
text (:mod:`.text`) and the yearly sunspot series (:mod:`.forecasting`). Every data set is made here or ships with
an installed package; nothing is downloaded.

Nothing here imports from the rest of the package except :mod:`gatedrnn.validation`.
"""

from gatedrnn.data import forecasting, tasks, text

__all__ = ["forecasting", "tasks", "text"]
