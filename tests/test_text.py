"""Characters as data: the corpus, the vocabulary, windows, bits per character and sampling, against closed forms."""

import math

import pytest
import torch

from gatedrnn.data import text
from gatedrnn.nn import models


def test_python_docs_is_the_documentation_topics_that_ship_with_python():
    from pydoc_data.topics import topics

    corpus = text.python_docs()
    assert len(corpus) > 300_000 and topics["assert"] in corpus and corpus.startswith(topics[sorted(topics)[0]])


def test_vocabulary_round_trips_and_names_unknown_characters():
    vocabulary = text.Vocabulary.of("hello, world")
    assert vocabulary.symbols == " ,dehlorw" and len(vocabulary) == 9
    tokens = vocabulary.encode("world, hello")
    assert tokens.dtype == torch.int64 and vocabulary.decode(tokens) == "world, hello"
    with pytest.raises(ValueError, match=r"text: characters \['!', 'x'\] are not in the vocabulary"):
        vocabulary.encode("x!")
    with pytest.raises(ValueError, match="text: expected a non-empty str"):
        text.Vocabulary.of("")


def test_unigram_bits_is_the_cross_entropy_of_add_one_frequencies():
    train = torch.tensor([0, 0, 0, 1])  # counts + 1 over 3 classes: 4, 2, 1 of 7
    valid = torch.tensor([0, 1, 2, 2])
    expected = -(math.log2(4 / 7) + math.log2(2 / 7) + 2 * math.log2(1 / 7)) / 4
    assert text.unigram_bits(train, valid, 3) == pytest.approx(expected, rel=1e-14)
    # a long uniform text over k symbols costs log2 k bits
    uniform = torch.arange(8).repeat(1000)
    assert text.unigram_bits(uniform, uniform, 8) == pytest.approx(3.0, rel=1e-12)
    assert text.bits(math.log(2)) == pytest.approx(1.0)


def test_bigram_bits_is_the_cross_entropy_of_add_one_pair_counts():
    train = torch.tensor([0, 1, 0, 1, 1, 2])
    valid = torch.tensor([1, 0, 2])
    # pairs in train: (0,1) twice, (1,0), (1,1), (1,2); add one to each of the 9 counts
    counts = {(a, b): 1 + sum(1 for x, y in zip(train[:-1].tolist(), train[1:].tolist()) if (x, y) == (a, b))
              for a in range(3) for b in range(3)}
    def p(a, b):
        return counts[a, b] / sum(counts[a, c] for c in range(3))
    expected = -(math.log2(p(1, 0)) + math.log2(p(0, 2))) / 2
    assert text.bigram_bits(train, valid, 3) == pytest.approx(expected, rel=1e-14)
    # a text where each character determines the next: far below the unigram cost
    cycle = torch.arange(4).repeat(500)
    assert text.unigram_bits(cycle, cycle, 4) == pytest.approx(2.0, rel=1e-3)
    assert text.bigram_bits(cycle, cycle, 4) < 0.01



def test_windows_are_contiguous_and_each_target_is_the_next_character():
    tokens = torch.arange(100)
    batches = text.window_batches(tokens, 10, 7, seed=0)
    inputs, targets = batches(0)
    assert inputs.shape == targets.shape == (10, 7)
    assert torch.equal(targets, inputs + 1) and torch.equal(inputs[1:], inputs[:-1] + 1)
    again = text.window_batches(tokens, 10, 7, seed=0)
    assert torch.equal(again(0)[0], inputs) and not torch.equal(batches(1)[0], inputs)
    with pytest.raises(ValueError, match=r"tokens: expected a 1-d tensor longer than length = 100"):
        text.window_batches(tokens, 100, 2, seed=0)


def test_evaluate_bits_equals_one_pass_over_each_stream_whatever_the_piece_length():
    torch.manual_seed(0)
    net = models.EveryStep(torch.nn.LSTM(5, 6), 5)
    tokens = torch.randint(0, 5, (203,))
    streams = 4
    usable = 200
    inputs = tokens[:usable].reshape(streams, -1).T
    targets = tokens[1:usable + 1].reshape(streams, -1).T
    with torch.no_grad():
        expected = models.sequence_cross_entropy(net(inputs), targets).item() / math.log(2)
    for length in (7, 50, 1000):
        assert text.evaluate_bits(net, tokens, streams=streams, length=length) == pytest.approx(expected, rel=1e-12)


def test_sampling_follows_the_temperature():
    torch.manual_seed(1)
    vocabulary = text.Vocabulary.of("abcd")
    net = models.EveryStep(torch.nn.GRU(4, 8), 4)
    one = text.sample(net, vocabulary, "ab", 30, 1.0, torch.Generator().manual_seed(7))
    assert len(one) == 30 and set(one) <= set("abcd")
    assert one == text.sample(net, vocabulary, "ab", 30, 1.0, torch.Generator().manual_seed(7))
    # a very low temperature is greedy decoding: always the most likely next character
    greedy, state, last = [], None, vocabulary.encode("ab")[:, None]
    with torch.no_grad():
        for _ in range(10):
            logits, state = net.run(last, state)
            last = logits[-1:].argmax(-1)
            greedy.append(int(last))
    assert text.sample(net, vocabulary, "ab", 10, 1e-4, torch.Generator()) == vocabulary.decode(torch.tensor(greedy))
    with pytest.raises(ValueError, match="temperature: expected a number > 0"):
        text.sample(net, vocabulary, "ab", 3, 0.0, torch.Generator())


def test_greedy_agreement_tells_teacher_forcing_from_free_running():
    """A network built by hand to predict the next token of a cycle 0, 1, …, 4, 0, …, on a stream that skips one
    token at position 20: reading the truth, it misses once at the skip and then follows again; reading its own
    choices, it misses at every step after the skip. The shares per step follow by counting."""
    V = 5
    rnn = torch.nn.RNN(V, V, nonlinearity="relu", dtype=torch.float64)
    net = models.EveryStep(rnn, V).double()
    with torch.no_grad():
        rnn.weight_ih_l0.copy_(10 * torch.eye(V, dtype=torch.float64))
        for name in ("weight_hh_l0", "bias_ih_l0", "bias_hh_l0"):
            getattr(rnn, name).zero_()
        net.readout.weight.copy_(torch.roll(torch.eye(V, dtype=torch.float64), 1, dims=0))  # unit i → token i + 1
        net.readout.bias.zero_()
    positions = torch.arange(40)
    stream = torch.where(positions < 20, positions, positions + 1) % V
    forced, free = text.greedy_agreement(net, stream, torch.tensor([0, 5, 10]), prompt=4, length=12)
    expected_forced = torch.ones(12, dtype=torch.float64)
    expected_forced[[6, 11]] = 2 / 3  # start 10 meets the skip at step 6, start 5 at step 11
    expected_free = torch.ones(12, dtype=torch.float64)
    expected_free[6:] = 2 / 3
    expected_free[11] = 1 / 3
    torch.testing.assert_close(forced, expected_forced)
    torch.testing.assert_close(free, expected_free)
    with pytest.raises(ValueError, match="starts: expected integer positions"):
        text.greedy_agreement(net, stream, torch.tensor([30]), prompt=4, length=12)
