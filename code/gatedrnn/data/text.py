"""Characters as data, for the character-level language model: the corpus (the documentation topics that ship with
Python, so nothing is downloaded), its vocabulary, batches of windows, bits per character, the unigram baseline,
and sampling at a temperature.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import torch
from torch import Tensor, nn

from gatedrnn.validation import check_size


def python_docs() -> str:
    """The text of ``pydoc_data.topics``: Python's reference documentation, one topic after another in name order,
    as ``help()`` shows it. It changes a little between Python versions."""
    from pydoc_data.topics import topics

    return "\n\n".join(topics[name] for name in sorted(topics))


@dataclass(frozen=True)
class Vocabulary:
    """The distinct characters of a text, in sorted order; character ``symbols[k]`` is token ``k``."""

    symbols: str

    @classmethod
    def of(cls, text: str) -> Vocabulary:
        if not isinstance(text, str) or not text:
            raise ValueError(f"text: expected a non-empty str, got {type(text).__name__} of length {len(text or '')}")
        return cls("".join(sorted(set(text))))

    def __len__(self) -> int:
        return len(self.symbols)

    def encode(self, text: str) -> Tensor:
        """int64 tokens [len(text)]; a character outside the vocabulary is a ValueError naming it."""
        index = {c: k for k, c in enumerate(self.symbols)}
        unknown = set(text) - index.keys()
        if unknown:
            raise ValueError(f"text: characters {sorted(unknown)!r} are not in the vocabulary")
        return torch.tensor([index[c] for c in text], dtype=torch.int64)

    def decode(self, tokens: Tensor) -> str:
        return "".join(self.symbols[k] for k in tokens.tolist())


def bits(nats: float) -> float:
    """A cross-entropy in nats per character, in bits per character: ``nats / ln 2``."""
    return nats / math.log(2)


def unigram_bits(train: Tensor, valid: Tensor, classes: int) -> float:
    """Bits per character on ``valid`` of the best model that ignores context: each character's frequency in
    ``train`` (plus one, so that a character unseen in training is not infinitely surprising)."""
    counts = torch.bincount(train, minlength=check_size("classes", classes)).double() + 1.0
    log_p = torch.log2(counts / counts.sum())
    return float(-log_p[valid].mean())


def bigram_bits(train: Tensor, valid: Tensor, classes: int) -> float:
    """Bits per character on ``valid`` of the model with one character of context, ``p(c_t | c_{t-1})``: the counts
    of each pair in ``train`` plus one, normalised over the second character."""
    classes = check_size("classes", classes)
    pairs = torch.ones(classes, classes, dtype=torch.float64)
    pairs.index_put_((train[:-1], train[1:]), torch.ones(len(train) - 1, dtype=torch.float64), accumulate=True)
    log_p = torch.log2(pairs / pairs.sum(dim=1, keepdim=True))
    return float(-log_p[valid[:-1], valid[1:]].mean())


def window_batches(tokens: Tensor, length: int, batch_size: int, seed: int) -> Callable[[int], tuple[Tensor, Tensor]]:
    """``batches(step)``: ``batch_size`` windows of ``length`` characters at seeded random places of ``tokens``,
    inputs [length, N] and targets [length, N], each target the character after its input."""
    L, N = check_size("length", length), check_size("batch_size", batch_size)
    if tokens.dim() != 1 or len(tokens) <= L:
        raise ValueError(f"tokens: expected a 1-d tensor longer than length = {L}, got shape {tuple(tokens.shape)}")
    generator = torch.Generator().manual_seed(seed)
    offsets = torch.arange(L + 1)

    def batches(step: int) -> tuple[Tensor, Tensor]:
        starts = torch.randint(0, len(tokens) - L, (N,), generator=generator)
        chunk = tokens[starts[None, :] + offsets[:, None]]  # [L + 1, N]
        return chunk[:-1], chunk[1:]

    return batches


def evaluate_bits(model: nn.Module, tokens: Tensor, streams: int = 16, length: int = 256) -> float:
    """Bits per character of ``model`` (an :class:`~gatedrnn.nn.models.EveryStep`) predicting each character of
    ``tokens`` from all the characters before it: the text is cut into ``streams`` parallel pieces, read ``length``
    steps at a time with the state carried over, so context is never cut."""
    S = check_size("streams", streams)
    usable = (len(tokens) - 1) // S * S
    device = model.readout.weight.device
    inputs = tokens[:usable].reshape(S, -1).T.to(device)  # [T, S]: stream s is a contiguous piece
    targets = tokens[1:usable + 1].reshape(S, -1).T.to(device)
    total, state = 0.0, None
    with torch.no_grad():
        for start in range(0, inputs.shape[0], check_size("length", length)):
            logits, state = model.run(inputs[start:start + length], state)
            total += float(nn.functional.cross_entropy(logits.flatten(0, 1), targets[start:start + length].flatten(),
                                                       reduction="sum"))
    return bits(total / targets.numel())


def sample(model: nn.Module, vocabulary: Vocabulary, prompt: str, length: int, temperature: float,
           generator: torch.Generator) -> str:
    """``length`` characters drawn one at a time after ``prompt`` from ``softmax(logits / temperature)``: low
    temperatures pick the likeliest characters, 1 samples the model's own distribution, high ones flatten it."""
    if not (isinstance(temperature, (int, float)) and temperature > 0):
        raise ValueError(f"temperature: expected a number > 0, got {temperature!r}")
    device = model.readout.weight.device
    tokens = vocabulary.encode(prompt).to(device)[:, None]
    drawn = []
    with torch.no_grad():
        logits, state = model.run(tokens)
        for _ in range(check_size("length", length)):
            p = torch.softmax(logits[-1, 0].double().cpu() / temperature, dim=-1)
            k = int(torch.multinomial(p, 1, generator=generator))
            drawn.append(k)
            logits, state = model.run(torch.tensor([[k]], device=device), state)
    return vocabulary.decode(torch.tensor(drawn))


def greedy_agreement(
    model: nn.Module, tokens: Tensor, starts: Tensor, prompt: int, length: int
) -> tuple[Tensor, Tensor]:
    """How often the likeliest next character is the true one, ``length`` steps after a true ``prompt``, read in two
    ways from each position of ``starts`` in ``tokens``: *teacher-forced*, the model reads the true text at every
    step (as in training), and *free-running*, it reads its own previous choice (as when it generates). Returns the
    share of starts at which each way agrees with the true text, per step ahead: two float64 tensors [length]."""
    P, L = check_size("prompt", prompt), check_size("length", length)
    inside = (starts >= 0) & (starts + P + L <= len(tokens))
    if starts.dim() != 1 or starts.dtype.is_floating_point or not bool(inside.all()):
        raise ValueError(
            f"starts: expected integer positions with starts + prompt + length <= {len(tokens)}, got {starts}"
        )
    device = model.readout.weight.device
    read = tokens[starts[None, :] + torch.arange(P + L)[:, None]].to(device)  # [P + L, N]: prompt and truth
    truth = read[P:]
    with torch.no_grad():
        forced = model.run(read[:-1])[0][P - 1:].argmax(-1)  # [L, N], each from the true text before it
        logits, state = model.run(read[:P])
        free = []
        for _ in range(L):
            free.append(logits[-1].argmax(-1))
            logits, state = model.run(free[-1][None], state)
    free = torch.stack(free)
    return (forced == truth).double().mean(1).cpu(), (free == truth).double().mean(1).cpu()
