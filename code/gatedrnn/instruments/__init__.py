"""What measures the networks: ‖∂L/∂h_t‖ at every step (:mod:`.gradients`), one step's Jacobian in closed form
(:mod:`.jacobians`), backpropagation through time by hand (:mod:`.bptt`), the gates' values (:mod:`.gates`), the
GRU as three papers write it (:mod:`.gru_conventions`), gradient norms through the depth of a network
(:mod:`.probes`), side-by-side runs with ``torch.nn`` (:mod:`.reference`), parameters and FLOPs (:mod:`.cost`),
and time, memory and throughput (:mod:`.speed`).

Instruments use :mod:`gatedrnn.nn` and :mod:`gatedrnn.validation`, nothing above them.
"""

from gatedrnn.instruments import bptt, cost, gates, gradients, gru_conventions, jacobians, probes, reference, speed

__all__ = ["bptt", "cost", "gates", "gradients", "gru_conventions", "jacobians", "probes", "reference", "speed"]
