"""The encoder–decoder against an independent reference: torch.nn.GRU and torch.nn.GRUCell with its weights, and
Bahdanau's attention written out as a loop; greedy decoding against a loop that feeds back each argmax."""

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from gatedrnn.data import tasks
from gatedrnn.nn.seq2seq import EncoderDecoder


def reference_logits(model, source, target):
    """Eq. (seq2seq-decoder) with torch.nn's GRU and GRUCell and the attention of eqs. (attn-score)–(attn-context)
    computed sequence by sequence, position by position."""
    K, H = model.symbols, model.hidden_size
    encoder = nn.GRU(K, H, dtype=torch.float64)
    decoder = nn.GRUCell(model.decoder.input_size, H, dtype=torch.float64)
    encoder.load_state_dict(model.encoder.state_dict())
    decoder.load_state_dict(model.decoder.state_dict())
    states, _ = encoder(F.one_hot(source, K).double())
    state, out = states[-1], []
    previous = torch.cat([torch.full_like(target[:1], K), target[:-1]])
    for y in previous:
        inputs = [F.one_hot(y, K + 1).double()]
        if model.attention:
            W_s, W_h, v = model.read.W_s.weight, model.read.W_h.weight, model.read.v.weight[0]
            contexts = []
            for n in range(source.shape[1]):
                e = [v @ torch.tanh(W_s @ state[n] + W_h @ states[j, n]) for j in range(source.shape[0])]
                z = sum(math.exp(float(x)) for x in e)
                contexts.append(sum(math.exp(float(x)) / z * states[j, n] for j, x in enumerate(e)))
            context = torch.stack(contexts)
            inputs.append(context)
        state = decoder(torch.cat(inputs, -1), state)
        out.append(model.readout(torch.cat([state, context], -1) if model.attention else state))
    return torch.stack(out)


@pytest.mark.parametrize("attention", [False, True])
def test_teacher_forcing_is_the_reference_decoder(attention):
    torch.manual_seed(3)
    model = EncoderDecoder(5, 6, attention=attention, dtype=torch.float64)
    source, target = tasks.reversal_task(3, 7, 5, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        torch.testing.assert_close(model(source, target), reference_logits(model, source, target),
                                   rtol=0, atol=1e-12)


@pytest.mark.parametrize("attention", [False, True])
def test_greedy_decoding_feeds_back_its_own_argmax(attention):
    torch.manual_seed(4)
    model = EncoderDecoder(4, 8, attention=attention, dtype=torch.float64)
    source, _ = tasks.reversal_task(5, 6, 4, generator=torch.Generator().manual_seed(2))
    written = model.greedy(source, 6)
    # teacher-forced with its own output, the decoder sees what greedy decoding saw, so it writes the same
    with torch.no_grad():
        assert torch.equal(model(source, written).argmax(-1), written)
    # and one symbol changed early changes what the decoder reads afterwards
    other = written.clone()
    other[0] = (other[0] + 1) % 4
    with torch.no_grad():
        assert not torch.allclose(model(source, other)[1:], model(source, written)[1:])


def test_with_attention_every_source_state_is_one_step_from_the_loss():
    """Without attention the gradient reaches h_j only through h_{j+1} … h_T; with it, also directly."""
    torch.manual_seed(5)
    source, target = tasks.reversal_task(2, 12, 4, generator=torch.Generator().manual_seed(3))
    for attention in (False, True):
        model = EncoderDecoder(4, 8, attention=attention, dtype=torch.float64)
        states = model.encode(source)
        loss = F.cross_entropy(model(source, target, states).flatten(0, 1), target.flatten())
        direct = torch.autograd.grad(loss, states[0], retain_graph=True)[0]
        # the part of dL/dh_1 that does not go through h_2: dL/dh_1 minus what h_2's gradient carries back
        through_next = torch.autograd.grad(states[1], states[0], torch.autograd.grad(loss, states[1])[0])[0]
        skip = (direct - through_next).norm().item()
        assert (skip > 1e-6) if attention else (skip < 1e-15), (attention, skip)


def test_reversal_targets_are_the_sources_reversed():
    source, target = tasks.reversal_task(4, 9, 3, generator=torch.Generator().manual_seed(0))
    assert source.shape == (9, 4) and source.dtype == torch.int64 and int(source.max()) <= 2
    for i in range(9):
        assert torch.equal(target[i], source[8 - i])


def test_bad_input_is_named():
    model = EncoderDecoder(4, 8, attention=True)
    source = torch.zeros(5, 2, dtype=torch.int64)
    with pytest.raises(ValueError, match=r"source: expected symbols in 0 … 3, got 0 … 4"):
        model.greedy(torch.tensor([[0, 4]]), 3)
    with pytest.raises(ValueError, match="target: expected an int64 tensor of symbols"):
        model(source, torch.zeros(5, 2))
    with pytest.raises(ValueError, match="target: expected 2 sequences like the source, got 3"):
        model(source, torch.zeros(5, 3, dtype=torch.int64))
    with pytest.raises(ValueError, match="length: expected"):
        tasks.reversal_task(2, 0, 3)
