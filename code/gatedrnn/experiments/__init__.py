"""What trains the networks and what a run concludes: device, profile and seeds (:mod:`.runtime`), gradient clipping
(:mod:`.clipping`), the training loop and its learning-rate schedules (:mod:`.training`), one experiment over many
seeds (:mod:`.sweeps`), many seeds trained as one computation (:mod:`.seeds`), the long-range benchmarks of
chapter 9 (:mod:`.benchmarks`), time to solve with censored runs (:mod:`.survival`), and the statistics behind a
verdict (:mod:`.verdicts`).

Experiments use :mod:`gatedrnn.nn`, :mod:`gatedrnn.data`, :mod:`gatedrnn.instruments` and
:mod:`gatedrnn.validation`; nothing below imports from here.
"""

from gatedrnn.experiments import benchmarks, clipping, runtime, seeds, survival, sweeps, training, verdicts

__all__ = ["benchmarks", "clipping", "runtime", "seeds", "survival", "sweeps", "training", "verdicts"]
