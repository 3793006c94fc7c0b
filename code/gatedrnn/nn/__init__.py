"""The networks, as the book builds them: one step of each model written from its equations (:mod:`.cells`), a
layer that unrolls a step over time and a stack of layers (:mod:`.layers`), modules with a readout (:mod:`.models`),
variants of the LSTM and GRU for ablations (:mod:`.variants`), layer- and batch-normalised layers
(:mod:`.normalised`), the minimal recurrences computed by a parallel scan (:mod:`.minimal`), attention
(:mod:`.attention`), a minimal Transformer encoder (:mod:`.transformer`) and an encoder–decoder of GRUs
(:mod:`.seq2seq`), fused Triton layers (:mod:`.kernels`, imported on demand since it needs Triton) and the
initialisations of W_hh (:mod:`.initialisation`).

Nothing here imports from the rest of the package except :mod:`gatedrnn.validation`.
"""

from gatedrnn.nn import (attention, cells, initialisation, layers, minimal, models, normalised, seq2seq,
                         transformer, variants)

__all__ = ["attention", "cells", "initialisation", "layers", "minimal", "models", "normalised", "seq2seq",
           "transformer", "variants"]
