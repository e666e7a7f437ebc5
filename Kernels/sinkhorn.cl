// Sinkhorn-Knopp for SwAV codes, in the log domain with dual vectors.
//
// SwAV (facebookresearch/swav, distributed_sinkhorn) computes, for scores S (B×K):
//   Q = exp(S/ε)ᵀ; Q /= ΣQ; repeat: Q /= rowsums(Q)·K;  Q /= colsums(Q)·B;  return (Q·B)ᵀ.
// Writing Q_bk = exp(M_bk + α_k + β_b) with M = S/ε, each normalisation is an update of one dual:
//   α_k = −logsumexp_b(M_bk + β_b) − log K,   β_b = −logsumexp_k(M_bk + α_k) − log B,
// and the codes are exp(M_bk + α_k + β_b + log B). No exp(S/ε) is ever formed, so ε = 0.001
// (|S|/ε ≈ 1000) stays finite in float32. The global total only shifts α and is absorbed by
// the first α update, so it is never computed.
//
// Three versions of one algorithm (SinkhornVariant in OpenCLBackend+Sinkhorn.swift):
//
// v1 two-pass: per iteration one column pass and one row pass over S, then the codes pass:
//                2·iterations + 1 reads of S.
//   sinkhorn_columns:  one work-item per prototype k, looping over the batch (coalesced across k).
//   sinkhorn_rows:     one work-group per sample b, local size 2^k.
//   sinkhorn_codes:    one work-item per element.
//
// v2 one-pass: a row block of R samples per work-group computes β of its rows from α (row
//                log-sum-exp) and, in the same pass, each column's partial log-sum-exp of
//                M_bk + β_b over its rows; a small kernel folds the partials into the next α.
//                The block is re-read for the columns while it sits in cache, so S comes from
//                device memory iterations + 1 times: the first pass has β = 0 (no row step), the
//                last computes β and writes the codes instead of partials.
//   sinkhorn_pass:             local size T = 2^t; rows in rounds of T/G teams of G = 2^g
//                              work-items (team_logsumexp); partials (groups × K) max and sum.
//   sinkhorn_alpha_from_parts: work-groups of 32 columns × up to 8 lanes (powers of two) over
//                              the partials; fewer where the device's groups are smaller.
//
// v3 one-group: the whole of it in one launch of one work-group, α (K) and β (B) in local
//                memory, the iterations a loop with barriers. For small B·K, where the other
//                versions' 2·iterations + 1 launches cost more than the arithmetic; S is read
//                2·iterations + 1 times, from cache when it fits.
//   sinkhorn_one_group:        local size T = 2^t, teams of G for the row steps as v2.

// MARK: - v1 two-pass

__kernel void sinkhorn_columns(__global const float* scores, __global const float* beta,
                               __global float* alpha, const int b_count, const int k_count,
                               const float inv_eps, const float log_k) {
    const int k = get_global_id(0);
    if (k >= k_count) return;
    float m = -INFINITY, s = 0.0f;
    for (int b = 0; b < b_count; ++b) lse_push(scores[(long)b * k_count + k] * inv_eps + beta[b], &m, &s);
    alpha[k] = -(m + log(s)) - log_k;
}

__kernel void sinkhorn_rows(__global const float* scores, __global const float* alpha,
                            __global float* beta, const int k_count, const float inv_eps,
                            const float log_b, __local float* scratch) {
    const int b = get_group_id(0);
    __global const float* row = scores + (long)b * k_count;
    float m = -INFINITY, s = 0.0f;
    for (int k = get_local_id(0); k < k_count; k += get_local_size(0)) lse_push(row[k] * inv_eps + alpha[k], &m, &s);
    const float lse = group_logsumexp(m, s, scratch);
    if (get_local_id(0) == 0) beta[b] = -lse - log_b;
}

__kernel void sinkhorn_codes(__global const float* scores, __global const float* alpha,
                             __global const float* beta, __global float* codes, const int b_count,
                             const int k_count, const float inv_eps, const float log_b) {
    const int gid = get_global_id(0);
    if (gid >= b_count * k_count) return;
    const int b = gid / k_count, k = gid % k_count;
    codes[gid] = exp(scores[gid] * inv_eps + alpha[k] + beta[b] + log_b);
}

// MARK: - Shared by v2 and v3

// (m1, s1) ⊕ (m2, s2): the pair of the union of two log-sum-exp accumulations.
static inline void lse_merge(float* m1, float* s1, const float m2, const float s2) {
    const float m = fmax(*m1, m2);
    if (m == -INFINITY) return;  // both empty
    *s1 = *s1 * exp(*m1 - m) + s2 * exp(m2 - m);
    *m1 = m;
}

// Log-sum-exp within teams of `team` consecutive work-items (a power of two dividing the local
// size), each given its partial (m, s); every work-item must call it (it holds barriers). The
// result is returned to every work-item of the team.
static inline float team_logsumexp(float m, float s, const int team, __local float* scratch_m, __local float* scratch_s) {
    const int lid = get_local_id(0), lane = lid & (team - 1);
    scratch_m[lid] = m;
    scratch_s[lid] = s;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int stride = team >> 1; stride > 0; stride >>= 1) {
        if (lane < stride) {
            float mm = scratch_m[lid], ss = scratch_s[lid];
            lse_merge(&mm, &ss, scratch_m[lid + stride], scratch_s[lid + stride]);
            scratch_m[lid] = mm;
            scratch_s[lid] = ss;
        }
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    const int first = lid - lane;
    const float lse = scratch_m[first] + log(scratch_s[first]);
    barrier(CLK_LOCAL_MEM_FENCE);  // scratch may be reused right after
    return lse;
}

// β_b = −logsumexp_k(M_bk + α_k) − log B for the rows first..first+count of S, in rounds of
// (local size / team) rows, one team each; one function per address space of alpha. Writes beta_out[r] for
// row first + r. Every work-item must call it.
#define SINKHORN_ROW_DUALS(NAME, ALPHA_SPACE)                                                                 \
    static inline void NAME(__global const float* scores, ALPHA_SPACE const float* alpha, const int first, \
                            const int count, const int k_count, const float inv_eps, const float log_b,    \
                            const int team, __local float* beta_out, __local float* scratch_m,             \
                            __local float* scratch_s) {                                                    \
        const int lid = get_local_id(0), lane = lid & (team - 1);                                          \
        const int teams = get_local_size(0) / team, me = lid / team;                                       \
        for (int round = 0; round < count; round += teams) {                                               \
            const int r = round + me;                                                                      \
            float m = -INFINITY, s = 0.0f;                                                                 \
            if (r < count) {                                                                               \
                __global const float* row = scores + (long)(first + r) * k_count;                          \
                for (int k = lane; k < k_count; k += team) lse_push(row[k] * inv_eps + alpha[k], &m, &s);  \
            }                                                                                              \
            const float lse = team_logsumexp(m, s, team, scratch_m, scratch_s);                            \
            if (r < count && lane == 0) beta_out[r] = -lse - log_b;                                        \
        }                                                                                                  \
        barrier(CLK_LOCAL_MEM_FENCE);                                                                      \
    }
SINKHORN_ROW_DUALS(sinkhorn_row_duals_global, __global)
SINKHORN_ROW_DUALS(sinkhorn_row_duals_local, __local)

// MARK: - v2 one-pass

// mode 0: the first pass: β = 0, partials only. mode 1: β from α, then partials.
// mode 2: the last pass: β from α, then the codes. Work-group g owns rows g·R ..< min((g+1)·R, B).
__kernel void sinkhorn_pass(__global const float* scores, __global const float* alpha,
                            __global float* part_max, __global float* part_sum, __global float* codes,
                            const int b_count, const int k_count, const int rows_per_group, const int team,
                            const float inv_eps, const float log_b, const int mode,
                            __local float* beta, __local float* scratch_m, __local float* scratch_s) {
    const int g = get_group_id(0), lid = get_local_id(0), t_count = get_local_size(0);
    const int first = g * rows_per_group;
    const int count = min(rows_per_group, b_count - first);
    if (mode == 0) {
        for (int r = lid; r < count; r += t_count) beta[r] = 0.0f;
        barrier(CLK_LOCAL_MEM_FENCE);
    } else {
        sinkhorn_row_duals_global(scores, alpha, first, count, k_count, inv_eps, log_b, team, beta,
                                    scratch_m, scratch_s);
    }
    if (mode == 2) {
        for (int r = 0; r < count; ++r) {
            const long base = (long)(first + r) * k_count;
            const float shift = beta[r] + log_b;
            for (int k = lid; k < k_count; k += t_count) codes[base + k] = exp(scores[base + k] * inv_eps + alpha[k] + shift);
        }
        return;
    }
    // Column partials over this block's rows: the block was just read, so this re-read is from cache.
    for (int k = lid; k < k_count; k += t_count) {
        float m = -INFINITY, s = 0.0f;
        for (int r = 0; r < count; ++r) lse_push(scores[(long)(first + r) * k_count + k] * inv_eps + beta[r], &m, &s);
        part_max[(long)g * k_count + k] = m;
        part_sum[(long)g * k_count + k] = s;
    }
}

// α_k = −(logsumexp over the groups' partials) − log K. Local size (32, L): 32 columns, L lanes
// striding over the groups, then a tree over the lanes.
__kernel void sinkhorn_alpha_from_parts(__global const float* part_max, __global const float* part_sum,
                                        __global float* alpha, const int groups, const int k_count,
                                        const float log_k, __local float* scratch_m, __local float* scratch_s) {
    const int kx = get_local_id(0), ly = get_local_id(1), lanes = get_local_size(1);
    const int k = get_group_id(0) * get_local_size(0) + kx;
    float m = -INFINITY, s = 0.0f;
    if (k < k_count) {
        for (int g = ly; g < groups; g += lanes) lse_merge(&m, &s, part_max[(long)g * k_count + k], part_sum[(long)g * k_count + k]);
    }
    const int slot = ly * get_local_size(0) + kx;
    scratch_m[slot] = m;
    scratch_s[slot] = s;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int stride = lanes >> 1; stride > 0; stride >>= 1) {
        if (ly < stride) {
            float mm = scratch_m[slot], ss = scratch_s[slot];
            const int other = slot + stride * get_local_size(0);
            lse_merge(&mm, &ss, scratch_m[other], scratch_s[other]);
            scratch_m[slot] = mm;
            scratch_s[slot] = ss;
        }
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    if (ly == 0 && k < k_count) alpha[k] = -(scratch_m[kx] + log(scratch_s[kx])) - log_k;
}

// MARK: - v3 one-group

__kernel void sinkhorn_one_group(__global const float* scores, __global float* codes, const int b_count,
                                 const int k_count, const int iterations, const int team, const float inv_eps,
                                 const float log_k, const float log_b, __local float* alpha, __local float* beta,
                                 __local float* scratch_m, __local float* scratch_s) {
    const int lid = get_local_id(0), t_count = get_local_size(0);
    for (int b = lid; b < b_count; b += t_count) beta[b] = 0.0f;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int it = 0; it < iterations; ++it) {
        for (int k = lid; k < k_count; k += t_count) {
            float m = -INFINITY, s = 0.0f;
            for (int b = 0; b < b_count; ++b) lse_push(scores[(long)b * k_count + k] * inv_eps + beta[b], &m, &s);
            alpha[k] = -(m + log(s)) - log_k;
        }
        barrier(CLK_LOCAL_MEM_FENCE);
        sinkhorn_row_duals_local(scores, alpha, 0, b_count, k_count, inv_eps, log_b, team, beta, scratch_m, scratch_s);
    }
    for (int b = 0; b < b_count; ++b) {
        const long base = (long)b * k_count;
        const float shift = beta[b] + log_b;
        for (int k = lid; k < k_count; k += t_count) codes[base + k] = exp(scores[base + k] * inv_eps + alpha[k] + shift);
    }
}
