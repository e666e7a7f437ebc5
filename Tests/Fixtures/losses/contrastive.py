#!/usr/bin/env python3
"""Float64 fixtures for the contrastive family, computed with the official loss code in PyTorch.

Run from anywhere: `python3 Tests/Fixtures/losses/contrastive.py` (needs torch and NumPy; the
Swift tests need neither). Inputs are saved as float32 and every value is computed in float64
from those float32 values; gradients come from autograd (or, for lemniscate, from the official
autograd.Function's own backward). Files: `<method>_<case>_<name>.npy` next to this script.

- ntxent:     SimCLR, google-research/simclr tf2/objective.py `add_contrastive_loss`, ported line
              by line from TensorFlow to PyTorch (tf.math.l2_normalize -> F.normalize as the issue
              defines it, tf.nn.softmax_cross_entropy_with_logits -> -(labels * log_softmax).sum).
              The official loss is mean(loss_a + loss_b), the sum of the two directions' means;
              our definition is the mean over all 2N rows, i.e. the official value / 2.
- moco:       MoCo, facebookresearch/moco moco/builder.py (forward's logits, CrossEntropyLoss,
              `_dequeue_and_enqueue`, `_momentum_update_key_encoder`). Our queue is K x D (rows),
              the official one D x K, so the queue is transposed on the way in and out.
- memorybank: instance discrimination, zhirongw/lemniscate.pytorch lib/LinearAverage.py (+
              nn.CrossEntropyLoss), lib/NCEAverage.py + lib/NCECriterion.py, copied verbatim
              except that NCEAverage's AliasMethod draw is replaced by the deterministic sampler
              of the Swift code (SplitMix64, below), so both sides see the same negatives.
"""
import math
import os

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.autograd import Function

HERE = os.path.dirname(os.path.abspath(__file__))
rng = np.random.default_rng(20261202)
torch.set_default_dtype(torch.float64)


def save(name, array):
    if isinstance(array, torch.Tensor):
        array = array.detach().numpy()
    np.save(os.path.join(HERE, name + ".npy"), np.asarray(array, order="C"))  # C order for the Swift reader


def float32_input(*shape, scale=1.0, shift=0.0):
    """A float32 array (saved as the test's input) and the same values as a float64 tensor."""
    a = (rng.standard_normal(shape) * scale + shift).astype(np.float32)
    return a, torch.from_numpy(a.astype(np.float64))


# MARK: - SimCLR (google-research/simclr, tf2/objective.py)

LARGE_NUM = 1e9


def add_contrastive_loss(hidden, hidden_norm=True, temperature=1.0):
    """tf2/objective.py, single replica (strategy=None), in PyTorch."""
    if hidden_norm:
        hidden = F.normalize(hidden, dim=-1)  # tf.math.l2_normalize(hidden, -1)
    hidden1, hidden2 = torch.split(hidden, hidden.shape[0] // 2, 0)
    batch_size = hidden1.shape[0]
    hidden1_large = hidden1
    hidden2_large = hidden2
    labels = F.one_hot(torch.arange(batch_size), batch_size * 2).double()
    masks = F.one_hot(torch.arange(batch_size), batch_size).double()

    logits_aa = torch.matmul(hidden1, hidden1_large.T) / temperature
    logits_aa = logits_aa - masks * LARGE_NUM
    logits_bb = torch.matmul(hidden2, hidden2_large.T) / temperature
    logits_bb = logits_bb - masks * LARGE_NUM
    logits_ab = torch.matmul(hidden1, hidden2_large.T) / temperature
    logits_ba = torch.matmul(hidden2, hidden1_large.T) / temperature

    def softmax_cross_entropy_with_logits(labels, logits):
        return -(labels * F.log_softmax(logits, dim=1)).sum(1)

    loss_a = softmax_cross_entropy_with_logits(labels, torch.cat([logits_ab, logits_aa], 1))
    loss_b = softmax_cross_entropy_with_logits(labels, torch.cat([logits_ba, logits_bb], 1))
    loss = torch.mean(loss_a + loss_b)
    return loss, logits_ab, labels


for n, d, t in [(2, 3, 0.1), (8, 17, 0.5)]:
    tag = f"ntxent_{n}x{d}"
    z1_32, z1 = float32_input(n, d)
    z2_32, z2 = float32_input(n, d, scale=0.5)
    z1.requires_grad_(True)
    z2.requires_grad_(True)
    official, _, _ = add_contrastive_loss(torch.cat([z1, z2]), temperature=t)
    loss = official / 2  # mean over the 2N rows
    loss.backward()
    save(tag + "_z1", z1_32)
    save(tag + "_z2", z2_32)
    save(tag + "_temperature", np.array(t))
    save(tag + "_loss", loss)
    save(tag + "_grad_z1", z1.grad)
    save(tag + "_grad_z2", z2.grad)


# MARK: - MoCo (facebookresearch/moco, moco/builder.py)


class MoCoQueue:
    """The queue half of builder.MoCo, single process (concat_all_gather is the identity)."""

    def __init__(self, queue_dk):
        self.queue = queue_dk  # D x K, as registered in MoCo.__init__
        self.K = queue_dk.shape[1]
        self.queue_ptr = torch.zeros(1, dtype=torch.long)

    @torch.no_grad()
    def _dequeue_and_enqueue(self, keys):
        batch_size = keys.shape[0]
        ptr = int(self.queue_ptr)
        assert self.K % batch_size == 0  # for simplicity
        self.queue[:, ptr : ptr + batch_size] = keys.T
        ptr = (ptr + batch_size) % self.K  # move pointer
        self.queue_ptr[0] = ptr


def moco_logits(q, k, queue_dk, T):
    """builder.MoCo.forward after the encoders."""
    q = nn.functional.normalize(q, dim=1)
    with torch.no_grad():
        k = nn.functional.normalize(k, dim=1)
    l_pos = torch.einsum("nc,nc->n", [q, k]).unsqueeze(-1)
    l_neg = torch.einsum("nc,ck->nk", [q, queue_dk.clone().detach()])
    logits = torch.cat([l_pos, l_neg], dim=1)
    logits /= T
    labels = torch.zeros(logits.shape[0], dtype=torch.long)
    return logits, labels, k


for n, d, kq, t in [(2, 3, 20, 0.2), (8, 17, 20, 0.07)]:
    tag = f"moco_{n}x{d}"
    q32, q = float32_input(n, d)
    k32, k = float32_input(n, d, scale=0.5)
    # The queue holds normalised keys, as MoCo.__init__ creates and _dequeue_and_enqueue keeps it.
    queue32 = F.normalize(torch.randn(d, kq, generator=torch.Generator().manual_seed(n)), dim=0).T.numpy().astype(np.float32)
    queue_dk = torch.from_numpy(queue32.astype(np.float64)).T.contiguous()
    q.requires_grad_(True)
    logits, labels, _ = moco_logits(q, k, queue_dk, t)
    loss = nn.CrossEntropyLoss()(logits, labels)
    loss.backward()
    save(tag + "_q", q32)
    save(tag + "_k", k32)
    save(tag + "_queue", queue32)
    save(tag + "_temperature", np.array(t))
    save(tag + "_loss", loss)
    save(tag + "_grad_q", q.grad)

# Enqueue: K = 20, N = 4 at pointer 16 fills rows 16..19 and wraps the pointer to 0.
keys32, keys = float32_input(4, 17)
queue32 = np.load(os.path.join(HERE, "moco_8x17_queue.npy"))
mq = MoCoQueue(torch.from_numpy(queue32.astype(np.float64)).T.clone())
mq.queue_ptr[0] = 16
mq._dequeue_and_enqueue(nn.functional.normalize(keys, dim=1))  # k is normalised before enqueueing
save("moco_enqueue_keys", keys32)
save("moco_enqueue_queue_next", mq.queue.T)
save("moco_enqueue_pointer_next", np.array(int(mq.queue_ptr)))


# Momentum update: param_k = param_k * m + param_q * (1 - m), m = 0.999, on two parameters.
@torch.no_grad()
def _momentum_update_key_encoder(params_q, params_k, m):
    for param_q, param_k in zip(params_q, params_k):
        param_k.mul_(m).add_(param_q.mul(1.0 - m))


online = [float32_input(5, 3), float32_input(7)]
target = [float32_input(5, 3), float32_input(7)]
params_k = [t.clone() for _, t in target]
_momentum_update_key_encoder([t for _, t in online], params_k, 0.999)
for i in range(2):
    save(f"moco_momentum_online{i}", online[i][0])
    save(f"moco_momentum_target{i}", target[i][0])
    save(f"moco_momentum_target{i}_next", params_k[i])


# MARK: - Memory bank (zhirongw/lemniscate.pytorch)


class LinearAverageOp(Function):  # lib/LinearAverage.py
    @staticmethod
    def forward(self, x, y, memory, params):
        T = params[0].item()
        batchSize = x.size(0)

        # inner product
        out = torch.mm(x.data, memory.t())
        out.div_(T)  # batchSize * N

        self.save_for_backward(x, memory, y, params)

        return out

    @staticmethod
    def backward(self, gradOutput):
        x, memory, y, params = self.saved_tensors
        batchSize = gradOutput.size(0)
        T = params[0].item()
        momentum = params[1].item()

        # add temperature
        gradOutput.data.div_(T)

        # gradient of linear
        gradInput = torch.mm(gradOutput.data, memory)
        gradInput.resize_as_(x)

        # update the non-parametric data
        weight_pos = memory.index_select(0, y.data.view(-1)).resize_as_(x)
        weight_pos.mul_(momentum)
        weight_pos.add_(torch.mul(x.data, 1 - momentum))
        w_norm = weight_pos.pow(2).sum(1, keepdim=True).pow(0.5)
        updated_weight = weight_pos.div(w_norm)
        memory.index_copy_(0, y, updated_weight)

        return gradInput, None, None, None


class NCEFunction(Function):  # lib/NCEAverage.py
    @staticmethod
    def forward(self, x, y, memory, idx, params):
        K = int(params[0].item())
        T = params[1].item()
        Z = params[2].item()

        momentum = params[3].item()
        batchSize = x.size(0)
        outputSize = memory.size(0)
        inputSize = memory.size(1)

        # sample positives & negatives
        idx.select(1, 0).copy_(y.data)

        # sample correspoinding weights
        weight = torch.index_select(memory, 0, idx.view(-1))
        weight.resize_(batchSize, K + 1, inputSize)

        # inner product
        out = torch.bmm(weight, x.data.resize_(batchSize, inputSize, 1))
        out.div_(T).exp_()  # batchSize * self.K+1
        x.data.resize_(batchSize, inputSize)

        if Z < 0:
            params[2] = out.mean() * outputSize
            Z = params[2].item()
            print("normalization constant Z is set to {:.1f}".format(Z))

        out.div_(Z).resize_(batchSize, K + 1)

        self.save_for_backward(x, memory, y, weight, out, params)

        return out

    @staticmethod
    def backward(self, gradOutput):
        x, memory, y, weight, out, params = self.saved_tensors
        K = int(params[0].item())
        T = params[1].item()
        Z = params[2].item()
        momentum = params[3].item()
        batchSize = gradOutput.size(0)

        # gradients d Pm / d linear = exp(linear) / Z
        gradOutput.data.mul_(out.data)
        # add temperature
        gradOutput.data.div_(T)

        # The 2017 code's `gradOutput.data.resize_(...)` reshaped gradOutput itself; since
        # PyTorch 0.4 `.data` is a new tensor, so the reshape is written as a view.
        gradOutput = gradOutput.view(batchSize, 1, K + 1)

        # gradient of linear
        gradInput = torch.bmm(gradOutput.data, weight)
        gradInput.resize_as_(x)

        # update the non-parametric data
        weight_pos = weight.select(1, 0).resize_as_(x)
        weight_pos.mul_(momentum)
        weight_pos.add_(torch.mul(x.data, 1 - momentum))
        w_norm = weight_pos.pow(2).sum(1, keepdim=True).pow(0.5)
        updated_weight = weight_pos.div(w_norm)
        memory.index_copy_(0, y, updated_weight)

        return gradInput, None, None, None, None


eps = 1e-7


class NCECriterion(nn.Module):  # lib/NCECriterion.py
    def __init__(self, nLem):
        super(NCECriterion, self).__init__()
        self.nLem = nLem

    def forward(self, x, targets):
        batchSize = x.size(0)
        K = x.size(1) - 1
        Pnt = 1 / float(self.nLem)
        Pns = 1 / float(self.nLem)

        # eq 5.1 : P(origin=model) = Pmt / (Pmt + k*Pnt)
        Pmt = x.select(1, 0)
        Pmt_div = Pmt.add(K * Pnt + eps)
        lnPmt = torch.div(Pmt, Pmt_div)

        # eq 5.2 : P(origin=noise) = k*Pns / (Pms + k*Pns)
        Pon_div = x.narrow(1, 1, K).add(K * Pns + eps)
        Pon = Pon_div.clone().fill_(K * Pns)
        lnPon = torch.div(Pon, Pon_div)

        # equation 6 in ref. A
        lnPmt.log_()
        lnPon.log_()

        lnPmtsum = lnPmt.sum(0)
        lnPonsum = lnPon.view(-1, 1).sum(0)

        loss = -(lnPmtsum + lnPonsum) / batchSize

        return loss


MASK64 = (1 << 64) - 1


def sample_negatives(indices, negatives, bank_size, seed):
    """The Swift sampler (MemoryBankReference.sampleNegatives): SplitMix64 from `seed`, N·m draws
    in row-major order, each mapped to [0, bank_size) by the high word of draw · bank_size.
    Column 0 holds the sample's own index, as NCEFunction.forward overwrites it."""
    state = seed & MASK64
    idx = np.zeros((len(indices), negatives + 1), dtype=np.int64)
    for n in range(len(indices)):
        idx[n, 0] = indices[n]
        for j in range(negatives):
            state = (state + 0x9E3779B97F4A7C15) & MASK64
            z = state
            z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
            z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
            z ^= z >> 31
            idx[n, 1 + j] = (z * bank_size) >> 64
    return torch.from_numpy(idx)


def memory_bank_case(tag, n, d, bank_rows, t, negatives=None, seed=0, z_value=None, bank32=None):
    z32, z = float32_input(n, d, scale=2.0)
    if bank32 is None:
        bank32 = F.normalize(torch.randn(bank_rows, d, generator=torch.Generator().manual_seed(bank_rows + n)), dim=1).numpy().astype(np.float32)
    memory = torch.from_numpy(bank32.astype(np.float64)).clone()
    y = torch.from_numpy(rng.permutation(bank_rows)[:n].astype(np.int64))
    z.requires_grad_(True)
    v = F.normalize(z, dim=1)
    momentum = 0.5
    if negatives is None:
        params = torch.tensor([t, momentum])
        out = LinearAverageOp.apply(v, y, memory, params)
        loss = nn.CrossEntropyLoss()(out, y)
    else:
        params = torch.tensor([negatives, t, -1 if z_value is None else z_value, momentum])
        idx = sample_negatives(y.numpy(), negatives, bank_rows, seed)
        out = NCEFunction.apply(v, y, memory, idx, params)
        loss = NCECriterion(bank_rows)(out, y)
    loss = loss.reshape(())
    loss.backward()
    save(tag + "_z", z32)
    save(tag + "_indices", y.numpy())
    save(tag + "_bank", bank32)
    save(tag + "_temperature", np.array(t))
    save(tag + "_loss", loss)
    save(tag + "_grad_z", z.grad)
    save(tag + "_bank_next", memory)  # the official backward updates the memory in place
    if negatives is not None:
        save(tag + "_negatives", np.array(negatives))
        save(tag + "_seed", np.array(seed, dtype=np.int64))
        save(tag + "_normalizer", params[2])
    return memory


memory_bank_case("memorybank_2x3", 2, 3, 40, 0.07)
memory_bank_case("memorybank_8x17", 8, 17, 40, 0.07)
memory_bank_case("memorybank_2x3nce", 2, 3, 40, 0.07, negatives=4096, seed=11)
# Two NCE steps as lemniscate runs them: Z is fixed by the first call and reused by the second,
# which also reads the first call's updated bank.
first = memory_bank_case("memorybank_8x17nce", 8, 17, 40, 0.07, negatives=16, seed=7)
z_first = float(np.float32(np.load(os.path.join(HERE, "memorybank_8x17nce_normalizer.npy"))))  # a float32 input
memory_bank_case("memorybank_8x17nce2", 8, 17, 40, 0.07, negatives=16, seed=8, z_value=z_first,
                 bank32=first.numpy().astype(np.float32))
