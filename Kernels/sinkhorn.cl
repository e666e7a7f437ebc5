// Sinkhorn-Knopp for SwAV codes, in the log domain with dual vectors.
//
// SwAV (facebookresearch/swav, distributed_sinkhorn) computes, for scores S (B×K):
//   Q = exp(S/ε)ᵀ; Q /= ΣQ; repeat: Q /= rowsums(Q)·K;  Q /= colsums(Q)·B;  return (Q·B)ᵀ.
// Writing Q_bk = exp(M_bk + α_k + β_b) with M = S/ε, each normalisation is an update of one dual:
//   α_k = −logsumexp_b(M_bk + β_b) − log K,   β_b = −logsumexp_k(M_bk + α_k) − log B,
// and the codes are exp(M_bk + α_k + β_b + log B). No exp(S/ε) is ever formed, so ε = 0.01
// (e^100) and below stay finite in float32. The global total only shifts α and is absorbed by
// the first α update, so it is never computed.
//
// sinkhorn_columns: one work-item per prototype k, looping over the batch (coalesced across k).
// sinkhorn_rows:    one work-group per sample b, local size 2^k.
// sinkhorn_codes:   one work-item per element.

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
