"""Per-mark bidirectional LSTMs with bin attention, run as one batched recurrence.

AttentiveChrome gives every histone mark its own bidirectional LSTM over the
bins, followed by an attention-weighted sum over bins. Written as the paper's
code does — one ``nn.LSTM`` per mark in a Python loop — the ``2 × marks``
small recurrences run one after the other. Here every mark and both
directions advance together: one batched matrix product per time step, with a
hand-written backward pass (back-propagation through time) so that autograd
does not record thousands of small operations, and with the attention pooling
fused in, so that the hidden states never become one large autograd tensor.
Each mark keeps its own weights: numerically this is one ``torch.nn.LSTM``
per mark (``tests/test_models.py`` checks it against separate ``nn.LSTM``s).

Internal layout: time first and batch last, (time, groups, features, batch),
with groups = marks × 2 directions and the backward direction stored in
reversed time. Per-step slices are then contiguous and each gate of a group
is one contiguous block, so the element-wise gate arithmetic runs on long
vectors. Activations live in one buffer per quantity, kept between calls
(:class:`_Workspace`).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable

import torch
from torch.autograd.function import once_differentiable

# PyTorch orders the gates (input, forget, cell, output); internally the three
# sigmoid gates come first so that one call activates all of them.
_TO_INTERNAL = (0, 1, 3, 2)


class _Workspace:
    """Activation buffers kept between calls, by shape.

    A training step at batch 256 writes some 200 MB of activations; memory
    freshly obtained from the system costs a page fault per 4 KiB written,
    about a third of the step's time on a CPU. Buffers handed back after the
    backward pass (or after an inference forward) are reused by the next
    call of the same shape instead; at most two sets per shape and
    ``max_bytes`` in all are kept, the least recently used dropped first.
    Buffers of a pass that is never back-propagated are simply freed with
    its graph.
    """

    def __init__(self, max_bytes: int = 1 << 30) -> None:
        self.max_bytes = max_bytes
        self._free: OrderedDict[tuple, list[tuple[torch.Tensor, ...]]] = OrderedDict()
        self._lock = threading.Lock()

    def take(
        self, key: tuple, make: Callable[[], tuple[torch.Tensor, ...]]
    ) -> tuple[torch.Tensor, ...]:
        """Buffers for ``key``: kept ones, or ``make()`` when none is free."""
        with self._lock:
            kept = self._free.get(key)
            if kept:
                self._free.move_to_end(key)
                return kept.pop()
        return make()

    def give_back(self, key: tuple, buffers: tuple[torch.Tensor, ...]) -> None:
        """Keep buffers no longer in use for the next call of the same shape."""
        if buffers[0].device.type != "cpu":
            return  # the CUDA caching allocator already reuses memory
        with self._lock:
            kept = self._free.setdefault(key, [])
            kept.append(buffers)
            del kept[:-2]  # two sets per shape serve a Siamese pair
            self._free.move_to_end(key)
            while self._free and self._bytes() > self.max_bytes:
                self._free.popitem(last=False)

    def _bytes(self) -> int:
        return sum(
            tensor.nbytes for kept in self._free.values() for buffers in kept for tensor in buffers
        )


_WORKSPACE = _Workspace()


def _reorder_gates(weight: torch.Tensor, hidden: int) -> torch.Tensor:
    """Rows of a (groups, 4·hidden, ...) weight from PyTorch's gate order to (i, f, o, g)."""
    blocks = weight.split(hidden, dim=1)
    return torch.cat([blocks[k] for k in _TO_INTERNAL], dim=1)


def _score_gradients(
    states: tuple[torch.Tensor, ...],
    pooling: torch.Tensor,
    grad_pooled: torch.Tensor,
    grad_alpha: torch.Tensor | None,
) -> torch.Tensor:
    """Gradients of the attention scores (time, groups, 1, batch), by direction.

    The pooling is ``pooled = Σ_t w_t h_t`` with ``w`` the softmax of the scores
    over time; ``grad_alpha`` (time, marks, batch) is the gradient reaching α
    directly, when α is used downstream.
    """
    steps, (groups, _, batch), marks = len(states), states[0].shape, pooling.shape[1] // 2
    grad_pooling = grad_pooled.new_empty(steps, groups, batch)
    scratch = torch.empty_like(grad_pooled)
    for h, grad in zip(states, grad_pooling.unbind(0), strict=True):
        torch.sum(torch.mul(h, grad_pooled, out=scratch), dim=1, out=grad)
    grad_pooling = grad_pooling.view(steps, marks, 2, batch)
    grad_alpha_total = grad_pooling[:, :, 0] + grad_pooling[:, :, 1].flip(0)
    if grad_alpha is not None:
        grad_alpha_total = grad_alpha_total + grad_alpha
    alpha = pooling.view(steps, marks, 2, batch)[:, :, 0]
    grad_scores = alpha * (grad_alpha_total - (alpha * grad_alpha_total).sum(0, keepdim=True))
    grad_partial = torch.stack([grad_scores, grad_scores.flip(0)], dim=2)
    return grad_partial.view(steps, groups, 1, batch)


class _BiLSTMAttention(torch.autograd.Function):
    """Grouped one-layer BiLSTMs over bins with attention pooling; see the module docstring.

    Inputs: ``sequences`` (time, groups, batch) — per group its input
    sequence in processing order, groups ordered (mark, direction) —;
    ``weights`` (groups, 4·hidden, hidden + 2): per group ``[W_hh, w_ih,
    bias]`` side by side, rows in internal gate order; ``context`` (groups,
    hidden), each mark's context vector split by direction; ``training``
    keeps the activations for a backward pass.

    Each step multiplies the weights by ``z_t = [h_{t-1}; x_t; 1]`` (groups,
    hidden + 2, batch): one product gives the gates, and in backward one
    product gives the gradients of ``h_{t-1}`` and ``x_t`` and one more those
    of all three weight blocks.

    Outputs: the attention-pooled states (groups, hidden, batch) and α
    (time, marks, batch), in time order, summing to 1 over time.
    """

    @staticmethod
    def forward(ctx, sequences, weights, context, training):  # noqa: D102
        steps, groups, batch = sequences.shape
        hidden = weights.shape[1] // 4
        marks = groups // 2
        # Without a backward pass only the hidden states are kept (for the pooling):
        # gates and cells of one step overwrite those of the previous one.
        kept = steps if training else 1
        key = (steps, kept, groups, hidden, batch, sequences.dtype, sequences.device)
        buffers = _WORKSPACE.take(
            key,
            lambda: (
                sequences.new_empty(steps + 1, groups, hidden + 2, batch),
                sequences.new_empty(kept, groups, 4 * hidden, batch),
                sequences.new_empty(kept, groups, hidden, batch),
                sequences.new_empty(kept, groups, hidden, batch),
            ),
        )
        z, gate_acts, cells, tanh_cells = buffers
        z[0, :, :hidden] = 0.0
        z[:steps, :, hidden] = sequences
        z[:, :, hidden + 1] = 1.0
        if not training:
            gate_acts = gate_acts.expand(steps, -1, -1, -1)
            cells = cells.expand(steps, -1, -1, -1)
            tanh_cells = tanh_cells.expand(steps, -1, -1, -1)
        # tanh(u) = 2·sigmoid(2u) - 1, and PyTorch's CPU sigmoid is several times
        # faster than its tanh: the cell gate's rows are doubled so that one
        # sigmoid activates all four gates.
        doubled = weights.clone()
        doubled[:, 3 * hidden :] *= 2.0
        minus_one = sequences.new_full((1, 1, 1), -1.0).expand(groups, hidden, batch)
        # Every per-step view is made once: slicing inside the loop costs more
        # than the arithmetic at small sizes.
        inputs = z.unbind(0)
        states = z[1:, :, :hidden].unbind(0)
        gate_steps = gate_acts.unbind(0)
        i_f_o_g = [part.unbind(0) for part in gate_acts.split(hidden, dim=2)]
        cell_steps, tanh_steps = cells.unbind(0), tanh_cells.unbind(0)
        for t in range(steps):
            torch.bmm(doubled, inputs[t], out=gate_steps[t]).sigmoid_()
            i, f, o, g = (part[t] for part in i_f_o_g)
            torch.add(minus_one, g, alpha=2.0, out=g)  # tanh of the cell gate
            c = cell_steps[t]
            if t:
                torch.mul(f, cell_steps[t - 1], out=c).addcmul_(i, g)
            else:
                torch.mul(i, g, out=c)
            tanh_c = tanh_steps[t]
            torch.mul(c, 2.0, out=tanh_c).sigmoid_()
            torch.add(minus_one, tanh_c, alpha=2.0, out=tanh_c)
            torch.mul(o, tanh_c, out=states[t])
        # Attention scores of every step at once: context · h_t, per direction.
        partial = torch.matmul(context.unsqueeze(1), z[1:, :, :hidden])  # (time, groups, 1, batch)
        # Time step t of a mark is processing step t forwards and step T-1-t backwards.
        partial = partial.view(steps, marks, 2, batch)
        alpha = torch.softmax(partial[:, :, 0] + partial[:, :, 1].flip(0), dim=0)
        pooling = torch.stack([alpha, alpha.flip(0)], dim=2).view(steps, groups, 1, batch)
        # Σ_t w_t h_t, accumulated step by step: several times faster on a CPU than
        # one reduction over the time axis (linalg.vecdot).
        pooled = sequences.new_zeros(groups, hidden, batch)
        for h, w in zip(states, pooling.unbind(0), strict=True):
            pooled.addcmul_(h, w)
        ctx.save_for_backward(weights, context, pooling)
        if training:
            ctx.saved, ctx.key = buffers, key
        else:
            ctx.saved = None
            _WORKSPACE.give_back(key, buffers)
        return pooled, alpha

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_pooled, grad_alpha):  # noqa: D102
        if ctx.saved is None:
            raise RuntimeError(
                "the per-mark LSTMs reuse their saved activations in backward: they cannot "
                "be back-propagated twice through the same graph, nor after a forward pass "
                "run without gradients"
            )
        weights, context, pooling = ctx.saved_tensors
        z, gate_acts, cells, tanh_cells = ctx.saved
        ctx.saved = None
        steps, groups, hidden_2, batch = gate_acts.shape
        hidden = hidden_2 // 4
        if grad_pooled is None:
            grad_pooled = weights.new_zeros(groups, hidden, batch)
        grad_pooled = grad_pooled.contiguous()

        states = z[1:, :, :hidden].unbind(0)  # h_t of every step, (groups, hidden, batch) each
        grad_partial = _score_gradients(states, pooling, grad_pooled, grad_alpha)

        readout = context.unsqueeze(-1)  # (groups, hidden, 1)
        weights_t = weights.transpose(1, 2).contiguous()
        grad_weights = torch.zeros_like(weights)
        grad_sequences = weights.new_empty(steps, groups, batch)
        grad_context = weights.new_zeros(groups, 1, hidden)
        grad_c = weights.new_zeros(groups, hidden, batch)
        # Per-step scratch, reused so that it stays in cache; grad_z alternates
        # between two buffers because step t reads the one step t + 1 wrote.
        grad_z = weights.new_zeros(2, groups, hidden + 2, batch)
        grad_z_steps = grad_z.unbind(0)
        grad_h_steps = grad_z[:, :, :hidden].unbind(0)
        through_tanh = weights.new_empty(groups, hidden, batch)
        upstream = weights.new_empty(groups, 4 * hidden, batch)
        up_i, up_f, up_o, up_g = upstream.split(hidden, dim=1)
        up_sigmoid, up_tanh = upstream[:, : 3 * hidden], upstream[:, 3 * hidden :]
        # Per-step views, made once (see forward).
        inputs_t = z[:steps].transpose(2, 3).unbind(0)
        gate_steps = gate_acts.unbind(0)
        i_f_o_g = [part.unbind(0) for part in gate_acts.split(hidden, dim=2)]
        sigmoid_steps = gate_acts[:, :, : 3 * hidden].unbind(0)
        tanh_gate_steps = gate_acts[:, :, 3 * hidden :].unbind(0)
        cell_steps, tanh_steps = cells.unbind(0), tanh_cells.unbind(0)
        pooling_steps, grad_partial_steps = pooling.unbind(0), grad_partial.unbind(0)
        grad_sequence_steps = grad_sequences.unbind(0)
        for t in range(steps - 1, -1, -1):
            grad_h = grad_h_steps[t % 2]
            # Gradient reaching h_t from the pooling and from the attention scores.
            grad_h.addcmul_(pooling_steps[t], grad_pooled)
            grad_h.addcmul_(readout, grad_partial_steps[t])
            grad_context.baddbmm_(grad_partial_steps[t], states[t].transpose(1, 2))
            i, f, o, g = (part[t] for part in i_f_o_g)
            tanh_c = tanh_steps[t]
            # dL/dc: through tanh(c) of this step plus the carry through the next forget gate.
            torch.ops.aten.tanh_backward(grad_h, tanh_c, grad_input=through_tanh)
            grad_c.addcmul_(through_tanh, o)
            # Gradients with respect to the activated gates, then through their nonlinearities.
            torch.mul(grad_c, g, out=up_i)
            if t:
                torch.mul(grad_c, cell_steps[t - 1], out=up_f)
            else:
                up_f.zero_()
            torch.mul(grad_h, tanh_c, out=up_o)
            torch.mul(grad_c, i, out=up_g)
            grad_c.mul_(f)  # carried to step t - 1 through its forget gate
            # The pre-activation gradients overwrite the activations, no longer needed.
            sigmoid_part, tanh_part = sigmoid_steps[t], tanh_gate_steps[t]
            torch.ops.aten.sigmoid_backward(up_sigmoid, sigmoid_part, grad_input=sigmoid_part)
            torch.ops.aten.tanh_backward(up_tanh, tanh_part, grad_input=tanh_part)
            a = gate_steps[t]
            grad_weights.baddbmm_(a, inputs_t[t])
            previous = grad_z_steps[(t + 1) % 2]
            torch.bmm(weights_t, a, out=previous)  # gradients of h_{t-1} and x_t
            grad_sequence_steps[t].copy_(previous[:, hidden])
        _WORKSPACE.give_back(ctx.key, (z, gate_acts, cells, tanh_cells))
        return grad_sequences, grad_weights, grad_context.squeeze(1), None


def bilstm_attention(
    x: torch.Tensor,
    weight_ih: torch.Tensor,
    weight_hh: torch.Tensor,
    bias: torch.Tensor,
    context: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-mark bidirectional LSTMs over bins, pooled by bin attention.

    Parameters
    ----------
    x
        (batch, marks, bins) signal; each mark is one LSTM's input sequence.
    weight_ih
        (marks, 2, 4·hidden) input weights per mark and direction (forward,
        backward), gates in PyTorch's order (input, forget, cell, output).
    weight_hh
        (marks, 2, 4·hidden, hidden) recurrent weights.
    bias
        (marks, 2, 4·hidden), ``torch.nn.LSTM``'s ``bias_ih + bias_hh``.
    context
        (marks, 2·hidden) attention context vector per mark.

    Returns
    -------
    Mark embeddings ``Σ_t α_t h_t`` (batch, marks, 2·hidden), forward states
    then backward states as in ``torch.nn.LSTM``, and α (batch, marks, bins)
    with ``α_t = softmax_t(context · h_t)``.
    """
    batch, marks, bins = x.shape
    hidden = weight_hh.shape[-1]
    # float32 (or float64) even under autocast: bf16 rounding compounds over time steps.
    dtype = torch.float64 if x.dtype == torch.float64 else torch.float32
    with torch.autocast(device_type=x.device.type, enabled=False):
        forward_order = x.to(dtype).permute(2, 1, 0)  # (bins, marks, batch)
        sequences = torch.stack([forward_order, forward_order.flip(0)], dim=2)
        weights = torch.cat(
            [
                weight_hh.to(dtype).flatten(0, 1),
                weight_ih.to(dtype).flatten(0, 1).unsqueeze(-1),
                bias.to(dtype).flatten(0, 1).unsqueeze(-1),
            ],
            dim=2,
        )
        pooled, alpha = _BiLSTMAttention.apply(
            sequences.reshape(bins, 2 * marks, batch),
            _reorder_gates(weights, hidden),
            context.to(dtype).reshape(2 * marks, hidden),
            torch.is_grad_enabled()
            and any(t.requires_grad for t in (x, weight_ih, weight_hh, bias, context)),
        )
    embedded = pooled.view(marks, 2, hidden, batch).permute(3, 0, 1, 2).reshape(batch, marks, -1)
    return embedded, alpha.permute(2, 1, 0)
