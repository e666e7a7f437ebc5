// Kernels of the contrastive objectives (Sources/SSLCore/Losses/NTXent.swift, MoCo.swift,
// MemoryBank.swift). The similarity matrices and the gradients' products with the embeddings
// are CLBlast GEMMs on the host side; these kernels are the row-wise cross-entropies and the
// memory bank's gathers.
//
// ntxent_rows:          one work-group per row of the (2N, 2N) similarities, local size 2^k.
// ntxent_fused_forward, ntxent_fused_lse, ntxent_fused_backward: NT-Xent without the (2N, 2N)
//                       similarities in global memory, flash-attention style (their section below).
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
static inline float row_label_cross_entropy(__global const float* x, __global float* g, const int cols,
                                            const int label, const int excluded, const float scale,
                                            const float inv_rows, __local float* scratch) {
    const float lse = row_logsumexp(x, 0, cols, scale, excluded, scratch);
#ifdef ROWS_SERIAL
    int j = 0;
    for (; j + 8 <= cols; j += 8) {
        const float8 p = exp(scale * vload8(0, x + j) - lse);
        vstore8(scale * p * inv_rows, 0, g + j);
    }
    for (; j < cols; j++) g[j] = scale * exp(scale * x[j] - lse) * inv_rows;
    if (excluded >= 0) g[excluded] = 0.0f;
    g[label] -= scale * inv_rows;
#else
    for (int j = get_local_id(0); j < cols; j += get_local_size(0)) {
        const float p = j == excluded ? 0.0f : exp(scale * x[j] - lse);
        g[j] = scale * (p - (j == label ? 1.0f : 0.0f)) * inv_rows;
    }
#endif
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

// ---------------------------------------------------------------------------------------------
// NT-Xent, fused (flash-attention style). With R = 2N rows ẑ (L2-normalised, stacked views),
// s_ij = ⟨ẑ_i, ẑ_j⟩, p(i) = i ± N and LSE_i = log Σ_{j≠i} exp(s_ij/T):
//
//   forward   L = (1/R) Σ_i [LSE_i − s_i,p(i)/T]; only LSE (R floats) and the positive logits
//             (R floats) reach global memory.
//   backward  dẑ_i = Σ_j W_ij ẑ_j,  W_ij = (p_ij + p_ji − 2 [j = p(i)]) / (R·T),
//             p_ij = exp(s_ij/T − LSE_i) for j ≠ i (W_ii = 0). S is symmetric, so one recomputed
//             s_ij gives both p_ij and p_ji.
//
// Tiles. A work-group owns BR query rows i and walks key tiles of BC rows j; each tile's BR×BC
// dot products are accumulated over D in steps of BK features staged in local memory (qs, ks:
// BK×(BR+1) and BK×(BC+1), k-major so that the inner loop reads rows contiguously; the +1 pad
// cuts the transposing stores' bank conflicts from 16-way to 2-way). The work-group is WX×WY = 8×8
// work-items; work-item (x, y) holds a TM×TN = 4×4 register tile, rows y + 8r and columns x + 8c
// of the tile (strided, so that a warp's local reads are broadcasts or consecutive words).
//
// forward  grid (splits, ⌈R/BR⌉): split s walks its share of the key tiles (flash-decoding's
//          split over keys, so that a small R still fills the device) keeping, per row it holds,
//          a running (max, sum) of exp; the 8 work-items of a row merge theirs through local
//          memory and write the split's partial (max, sum). ntxent_fused_lse merges the splits.
// backward grid (⌈D/BD⌉, ⌈R/BR⌉, splits): besides qs and ks, local memory holds the W tile
//          (BR×(BC+1)) and the key rows' BD-column slice (BC×BD); each work-item accumulates
//          TM rows × BD/WX columns of dẑ in registers over the split's key tiles, and writes them
//          to its split's slice of dzhat (the host sums the slices when there are several).
//          Each of the ⌈D/BD⌉ column blocks recomputes the dot products over all of D.
// Sizes are ints (the host refuses larger); every edge (R, D, the last split) is guarded.
// The tiles are untuned defaults (no GPU has measured them): 6.3 KB of local memory in the
// forward, 24.8 KB in the backward (12.5 KB with -DNTX_BD=32, which the host builds for devices
// with less local memory), about 100 registers a work-item. The host mirrors BR, BC, BK, BD
// and WX×WY (NTXentFusedTiles in OpenCLBackend+NTXent.swift; a test compares them).
#ifndef NTX_BR
#define NTX_BR 32   // query rows per work-group
#endif
#ifndef NTX_BC
#define NTX_BC 32   // key rows per tile
#endif
#ifndef NTX_BK
#define NTX_BK 16   // features per staging step of the dot products
#endif
#ifndef NTX_BD
#define NTX_BD 128  // backward: columns of dẑ per work-group
#endif
#define NTX_WX 8
#define NTX_WY 8
#define NTX_TM (NTX_BR / NTX_WY)
#define NTX_TN (NTX_BC / NTX_WX)
#define NTX_TD (NTX_BD / NTX_WX)

static inline int ntx_partner(const int i, const int n_pairs) { return i < n_pairs ? i + n_pairs : i - n_pairs; }

// s[r][c] = ⟨ẑ_{i0 + y + WY·r}, ẑ_{j0 + x + WX·c}⟩ over all d features (0 outside the R rows).
static inline void ntx_tile_dots(__global const float* zhat, const int rows, const int d, const int i0, const int j0,
                                 __local float* qs, __local float* ks, float s[NTX_TM][NTX_TN]) {
    const int x = get_local_id(0), y = get_local_id(1), lid = y * NTX_WX + x;
    for (int r = 0; r < NTX_TM; ++r)
        for (int c = 0; c < NTX_TN; ++c) s[r][c] = 0.0f;
    for (int k0 = 0; k0 < d; k0 += NTX_BK) {
        // Coalesced: consecutive work-items read consecutive features of one row.
        for (int l = lid; l < NTX_BR * NTX_BK; l += NTX_WX * NTX_WY) {
            const int row = l / NTX_BK, k = l % NTX_BK, gi = i0 + row, gk = k0 + k;
            qs[k * (NTX_BR + 1) + row] = gi < rows && gk < d ? zhat[(long)gi * d + gk] : 0.0f;
        }
        for (int l = lid; l < NTX_BC * NTX_BK; l += NTX_WX * NTX_WY) {
            const int row = l / NTX_BK, k = l % NTX_BK, gj = j0 + row, gk = k0 + k;
            ks[k * (NTX_BC + 1) + row] = gj < rows && gk < d ? zhat[(long)gj * d + gk] : 0.0f;
        }
        barrier(CLK_LOCAL_MEM_FENCE);
        for (int k = 0; k < NTX_BK; ++k) {
            float a[NTX_TM], b[NTX_TN];
            for (int r = 0; r < NTX_TM; ++r) a[r] = qs[k * (NTX_BR + 1) + y + NTX_WY * r];
            for (int c = 0; c < NTX_TN; ++c) b[c] = ks[k * (NTX_BC + 1) + x + NTX_WX * c];
            for (int r = 0; r < NTX_TM; ++r)
                for (int c = 0; c < NTX_TN; ++c) s[r][c] += a[r] * b[c];
        }
        barrier(CLK_LOCAL_MEM_FENCE);
    }
}

// part_max, part_sum (splits, R): split s's running max and sum of exp(s_ij/T − max) over its
// keys j ≠ i. pos_logit (R): s_i,p(i)/T, written by the one work-item that meets j = p(i).
__kernel __attribute__((reqd_work_group_size(NTX_WX, NTX_WY, 1)))
void ntxent_fused_forward(__global const float* zhat, __global float* part_max, __global float* part_sum,
                          __global float* pos_logit, const int rows, const int d, const int n_pairs,
                          const float inv_t, const int tiles_per_split) {
    __local float qs[NTX_BK * (NTX_BR + 1)], ks[NTX_BK * (NTX_BC + 1)];
    __local float merge_max[NTX_BR * NTX_WX], merge_sum[NTX_BR * NTX_WX];
    const int x = get_local_id(0), y = get_local_id(1);
    const int split = get_group_id(0), i0 = get_group_id(1) * NTX_BR;
    const int tiles = (rows + NTX_BC - 1) / NTX_BC;
    const int first = split * tiles_per_split, last = min(first + tiles_per_split, tiles);
    float m[NTX_TM], sum[NTX_TM];
    for (int r = 0; r < NTX_TM; ++r) { m[r] = -INFINITY; sum[r] = 0.0f; }
    for (int t = first; t < last; ++t) {
        const int j0 = t * NTX_BC;
        float s[NTX_TM][NTX_TN];
        ntx_tile_dots(zhat, rows, d, i0, j0, qs, ks, s);
        for (int r = 0; r < NTX_TM; ++r) {
            const int i = i0 + y + NTX_WY * r;
            if (i >= rows) continue;
            const int p = ntx_partner(i, n_pairs);
            for (int c = 0; c < NTX_TN; ++c) {
                const int j = j0 + x + NTX_WX * c;
                if (j >= rows || j == i) continue;
                const float logit = s[r][c] * inv_t;
                if (j == p) pos_logit[i] = logit;
                lse_push(logit, &m[r], &sum[r]);
            }
        }
    }
    // The row's 8 work-items (x = 0..7) merge their states; x = 0 writes the split's.
    for (int r = 0; r < NTX_TM; ++r) {
        merge_max[(y + NTX_WY * r) * NTX_WX + x] = m[r];
        merge_sum[(y + NTX_WY * r) * NTX_WX + x] = sum[r];
    }
    barrier(CLK_LOCAL_MEM_FENCE);
    if (x == 0) {
        for (int r = 0; r < NTX_TM; ++r) {
            const int row = y + NTX_WY * r, i = i0 + row;
            if (i >= rows) continue;
            float best = -INFINITY, total = 0.0f;
            for (int q = 0; q < NTX_WX; ++q) best = fmax(best, merge_max[row * NTX_WX + q]);
            for (int q = 0; q < NTX_WX; ++q) {
                const float mq = merge_max[row * NTX_WX + q];
                if (mq != -INFINITY) total += merge_sum[row * NTX_WX + q] * exp(mq - best);
            }
            part_max[(long)split * rows + i] = best;
            part_sum[(long)split * rows + i] = total;
        }
    }
}

// One work-item per row: LSE_i from the splits' partial states, and row_loss_i = LSE_i − pos_i.
__kernel void ntxent_fused_lse(__global const float* part_max, __global const float* part_sum,
                               __global const float* pos_logit, __global float* lse, __global float* row_loss,
                               const int rows, const int splits) {
    const int i = get_global_id(0);
    if (i >= rows) return;
    float best = -INFINITY, total = 0.0f;
    for (int q = 0; q < splits; ++q) best = fmax(best, part_max[(long)q * rows + i]);
    for (int q = 0; q < splits; ++q) {
        const float mq = part_max[(long)q * rows + i];
        if (mq != -INFINITY) total += part_sum[(long)q * rows + i] * exp(mq - best);
    }
    const float value = best + log(total);  // every row has a key j ≠ i: R ≥ 2
    lse[i] = value;
    row_loss[i] = value - pos_logit[i];
}

// dzhat (splits, R, D): split s's share of dẑ_i = Σ_j W_ij ẑ_j, W as above with scale = 1/(R·T).
__kernel __attribute__((reqd_work_group_size(NTX_WX, NTX_WY, 1)))
void ntxent_fused_backward(__global const float* zhat, __global const float* lse, __global float* dzhat,
                           const int rows, const int d, const int n_pairs, const float inv_t,
                           const float scale, const int tiles_per_split) {
    __local float qs[NTX_BK * (NTX_BR + 1)], ks[NTX_BK * (NTX_BC + 1)];
    __local float w[NTX_BR * (NTX_BC + 1)], keys[NTX_BC * NTX_BD];
    const int x = get_local_id(0), y = get_local_id(1), lid = y * NTX_WX + x;
    const int c0 = get_group_id(0) * NTX_BD, i0 = get_group_id(1) * NTX_BR, split = get_group_id(2);
    const int tiles = (rows + NTX_BC - 1) / NTX_BC;
    const int first = split * tiles_per_split, last = min(first + tiles_per_split, tiles);
    float lse_row[NTX_TM], acc[NTX_TM][NTX_TD];
    for (int r = 0; r < NTX_TM; ++r) {
        const int i = i0 + y + NTX_WY * r;
        lse_row[r] = i < rows ? lse[i] : 0.0f;
        for (int q = 0; q < NTX_TD; ++q) acc[r][q] = 0.0f;
    }
    for (int t = first; t < last; ++t) {
        const int j0 = t * NTX_BC;
        float s[NTX_TM][NTX_TN];
        ntx_tile_dots(zhat, rows, d, i0, j0, qs, ks, s);
        float lse_key[NTX_TN];
        for (int c = 0; c < NTX_TN; ++c) {
            const int j = j0 + x + NTX_WX * c;
            lse_key[c] = j < rows ? lse[j] : 0.0f;
        }
        for (int r = 0; r < NTX_TM; ++r) {
            const int i = i0 + y + NTX_WY * r, p = ntx_partner(i, n_pairs);
            for (int c = 0; c < NTX_TN; ++c) {
                const int j = j0 + x + NTX_WX * c;
                float weight = 0.0f;
                if (i < rows && j < rows && j != i) {
                    const float logit = s[r][c] * inv_t;
                    weight = exp(logit - lse_row[r]) + exp(logit - lse_key[c]) - (j == p ? 2.0f : 0.0f);
                }
                w[(y + NTX_WY * r) * (NTX_BC + 1) + x + NTX_WX * c] = weight * scale;
            }
        }
        for (int l = lid; l < NTX_BC * NTX_BD; l += NTX_WX * NTX_WY) {
            const int row = l / NTX_BD, col = l % NTX_BD, gj = j0 + row, gc = c0 + col;
            keys[l] = gj < rows && gc < d ? zhat[(long)gj * d + gc] : 0.0f;
        }
        barrier(CLK_LOCAL_MEM_FENCE);
        for (int jj = 0; jj < NTX_BC; ++jj) {
            float wr[NTX_TM];
            for (int r = 0; r < NTX_TM; ++r) wr[r] = w[(y + NTX_WY * r) * (NTX_BC + 1) + jj];
            for (int q = 0; q < NTX_TD; ++q) {
                const float v = keys[jj * NTX_BD + x + NTX_WX * q];
                for (int r = 0; r < NTX_TM; ++r) acc[r][q] += wr[r] * v;
            }
        }
        barrier(CLK_LOCAL_MEM_FENCE);  // w and keys are rewritten by the next tile
    }
    for (int r = 0; r < NTX_TM; ++r) {
        const int i = i0 + y + NTX_WY * r;
        if (i >= rows) continue;
        for (int q = 0; q < NTX_TD; ++q) {
            const int col = c0 + x + NTX_WX * q;
            if (col < d) dzhat[((long)split * rows + i) * d + col] = acc[r][q];
        }
    }
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
