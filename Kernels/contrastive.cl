// Kernels of the contrastive objectives (Sources/SSLCore/Losses/NTXent.swift, MoCo.swift,
// MemoryBank.swift). The similarity matrices and the gradients' products with the embeddings
// are CLBlast GEMMs on the host side; these kernels are the row-wise cross-entropies and the
// memory bank's gathers.
//
// ntxent_rows:          one work-group per row of the (2N, 2N) similarities, local size 2^k.
// label_cross_entropy:  one work-group per row of (N, C) logits with int labels, local size 2^k.
// moco_rows:            one work-group per query, local size 2^k (reduces over D and over K).
// nce_scores:           one work-item per (sample, scored bank row); loops over D.
// nce_log_normalizer:   one work-group in all, local size 2^k: Z = B · mean(exp(logits)).
// nce_rows:             one work-group per sample, local size 2^k.
// nce_gather_gradient:  one work-item per element of dV (N, D); loops over the 1 + m scored rows.
// memory_bank_update:   one work-group per sample, local size 2^k.
//
// Assumptions: every size fits an int (the host refuses larger ones); labels and bank rows are
// in range (validated on the host). Gradients written here are w.r.t. the dot products
// (similarities) before the 1/T scale, so they already carry the factor 1/T.

// Cross-entropy of scale·x (one row of `cols`) against the column `label`, with column `excluded`
// (−1 for none) left out of the softmax. Writes g_j = scale·(p_j − [j = label])·inv_rows, 0 at
// `excluded`, and returns the row's loss lse − scale·x_label in every work-item.
inline float row_label_cross_entropy(__global const float* x, __global float* g, const int cols,
                                     const int label, const int excluded, const float scale,
                                     const float inv_rows, __local float* scratch) {
    float m = -INFINITY, s = 0.0f;
    for (int j = get_local_id(0); j < cols; j += get_local_size(0))
        if (j != excluded) lse_push(scale * x[j], &m, &s);
    const float lse = group_logsumexp(m, s, scratch);
    for (int j = get_local_id(0); j < cols; j += get_local_size(0)) {
        const float p = j == excluded ? 0.0f : exp(scale * x[j] - lse);
        g[j] = scale * (p - (j == label ? 1.0f : 0.0f)) * inv_rows;
    }
    return lse - scale * x[label];
}

// NT-Xent: row i of the similarities ẑẑᵀ has its partner i ± N as label and itself excluded.
__kernel void ntxent_rows(__global const float* sim, __global float* row_loss, __global float* dsim,
                          const int rows, const int n_pairs, const float scale, const float inv_rows,
                          __local float* scratch) {
    const int row = get_group_id(0);
    const int label = row < n_pairs ? row + n_pairs : row - n_pairs;
    const float loss = row_label_cross_entropy(sim + (long)row * rows, dsim + (long)row * rows, rows, label,
                                               row, scale, inv_rows, scratch);
    if (get_local_id(0) == 0) row_loss[row] = loss;
}

// Hard-label cross-entropy of scale·logits: the memory bank's full softmax (labels = indices).
__kernel void label_cross_entropy(__global const float* logits, __global const int* labels,
                                  __global float* row_loss, __global float* dlogits, const int cols,
                                  const float scale, const float inv_rows, __local float* scratch) {
    const int row = get_group_id(0);
    const float loss = row_label_cross_entropy(logits + (long)row * cols, dlogits + (long)row * cols, cols,
                                               labels[row], -1, scale, inv_rows, scratch);
    if (get_local_id(0) == 0) row_loss[row] = loss;
}

// MoCo: logits [⟨q̂, k̂⟩, q̂·queueᵀ]·scale against label 0, without forming the concatenation.
// Writes dneg = dL/dl_neg (N, K) and dq_hat = dL/dl_pos · k̂ (N, D); the host adds dneg·queue.
__kernel void moco_rows(__global const float* q_hat, __global const float* k_hat, __global const float* l_neg,
                        __global float* row_loss, __global float* dneg, __global float* dq_hat,
                        const int d, const int k_count, const float scale, const float inv_rows,
                        __local float* scratch) {
    const int row = get_group_id(0), lid = get_local_id(0), size = get_local_size(0);
    __global const float* q = q_hat + (long)row * d;
    __global const float* k = k_hat + (long)row * d;
    __global const float* neg = l_neg + (long)row * k_count;
    float dot = 0.0f;
    for (int c = lid; c < d; c += size) dot += q[c] * k[c];
    const float l_pos = scale * group_sum(dot, scratch);
    float m = -INFINITY, s = 0.0f;
    if (lid == 0) lse_push(l_pos, &m, &s);
    for (int j = lid; j < k_count; j += size) lse_push(scale * neg[j], &m, &s);
    const float lse = group_logsumexp(m, s, scratch);
    for (int j = lid; j < k_count; j += size) dneg[(long)row * k_count + j] = scale * exp(scale * neg[j] - lse) * inv_rows;
    const float dpos = scale * (exp(l_pos - lse) - 1.0f) * inv_rows;
    for (int c = lid; c < d; c += size) dq_hat[(long)row * d + c] = dpos * k[c];
    if (lid == 0) row_loss[row] = lse - l_pos;
}

// NCE logits ⟨v_n, w_{scored[n, j]}⟩ · inv_t, (N, cols).
__kernel void nce_scores(__global const float* v, __global const float* bank, __global const int* scored,
                         __global float* logits, const int count, const int cols, const int d,
                         const float inv_t) {
    const int gid = get_global_id(0);
    if (gid >= count) return;
    __global const float* x = v + (long)(gid / cols) * d;
    __global const float* w = bank + (long)scored[gid] * d;
    float dot = 0.0f;
    for (int c = 0; c < d; ++c) dot += x[c] * w[c];
    logits[gid] = dot * inv_t;
}

// Z = B · mean(exp(logits)) = exp(logsumexp(logits) − log(count) + log(B)), never forming exp.
__kernel void nce_log_normalizer(__global const float* logits, __global float* normalizer, const int count,
                                 const float log_bank_over_count, __local float* scratch) {
    float m = -INFINITY, s = 0.0f;
    for (int j = get_local_id(0); j < count; j += get_local_size(0)) lse_push(logits[j], &m, &s);
    const float lse = group_logsumexp(m, s, scratch);
    if (get_local_id(0) == 0) normalizer[0] = exp(lse + log_bank_over_count);
}

// lemniscate's NCECriterion per sample, in the log domain: with a = logit − log Z (= log P_model)
// and c = m/B + eps, the terms are log(P0 + c) − log P0 and log(P_k + c) − log(m/B); the
// gradient w.r.t. ⟨v, w⟩ is −c/(P0 + c)/(N·T) for the positive and P_k/(P_k + c)/(N·T) for noise.
__kernel void nce_rows(__global const float* logits, __global const float* normalizer, __global float* row_loss,
                       __global float* dscores, const int cols, const float noise_mass,
                       const float log_noise, const float grad_scale, __local float* scratch) {
    const int row = get_group_id(0);
    const float log_z = log(normalizer[0]), log_c = log(noise_mass);
    float loss = 0.0f;
    for (int j = get_local_id(0); j < cols; j += get_local_size(0)) {
        const long at = (long)row * cols + j;
        const float a = logits[at] - log_z;
        const float hi = fmax(a, log_c);
        const float log_sum = hi + log1p(exp(-fabs(a - log_c)));  // log(P + c)
        if (j == 0) {
            loss += log_sum - a;
            dscores[at] = -grad_scale / (1.0f + exp(a - log_c));  // −c/(P + c)
        } else {
            loss += log_sum - log_noise;
            dscores[at] = grad_scale / (1.0f + exp(log_c - a));   // P/(P + c)
        }
    }
    loss = group_sum(loss, scratch);
    if (get_local_id(0) == 0) row_loss[row] = loss;
}

// dV[n, c] = Σ_j dscores[n, j] · bank[scored[n, j], c].
__kernel void nce_gather_gradient(__global const float* dscores, __global const float* bank,
                                  __global const int* scored, __global float* dv, const int n_count,
                                  const int cols, const int d) {
    const int gid = get_global_id(0);
    if (gid >= n_count * d) return;
    const int n = gid / d, c = gid % d;
    float acc = 0.0f;
    for (int j = 0; j < cols; ++j) acc += dscores[(long)n * cols + j] * bank[(long)scored[(long)n * cols + j] * d + c];
    dv[gid] = acc;
}

// bank_next[y_n] = normalize(momentum · bank[y_n] + (1 − momentum) · v_n), from the old bank.
__kernel void memory_bank_update(__global const float* bank, __global const float* v, __global const int* indices,
                                 __global float* bank_next, const int d, const float momentum, const float eps,
                                 __local float* scratch) {
    const int n = get_group_id(0);
    __global const float* w = bank + (long)indices[n] * d;
    __global const float* x = v + (long)n * d;
    __global float* out = bank_next + (long)indices[n] * d;
    float ss = 0.0f;
    for (int c = get_local_id(0); c < d; c += get_local_size(0)) {
        const float u = momentum * w[c] + (1.0f - momentum) * x[c];
        ss += u * u;
    }
    const float inv = 1.0f / fmax(sqrt(group_sum(ss, scratch)), eps);
    for (int c = get_local_id(0); c < d; c += get_local_size(0))
        out[c] = (momentum * w[c] + (1.0f - momentum) * x[c]) * inv;
}
