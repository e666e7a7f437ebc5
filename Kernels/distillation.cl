// Kernels of the distillation objectives (Sources/SSLCore/Losses/BYOL.swift, SimSiam.swift, DINO.swift).
//
// normalized_pair_rows: BYOL's and SimSiam's per-row loss and gradient, fused: both row norms,
//                       the row's loss term, and the gradient through p's normalisation, in one
//                       work-group per row (local size 2^k), so p̂ and ẑ are never stored.
// dino_teacher_probs:   DINO's teacher targets softmax((t − c) / τ_t), one work-group per row.
//
// The student side of DINO is the shared soft_cross_entropy (elementwise.cl), once per pair.

#define PAIR_BYOL 0     // loss Σ_j (p̂_j − ẑ_j)²,  dL/dp̂ = 2·grad_scale·(p̂ − ẑ)
#define PAIR_SIMSIAM 1  // loss −Σ_j p̂_j ẑ_j,      dL/dp̂ = −grad_scale·ẑ

// x̂ = x / max(‖x‖, eps) for p and z; row_loss[loss_offset + row] = the row's loss term; and
// dp = (g − p̂⟨p̂, g⟩) / ‖p‖ with g = dL/dp̂ (the gradient of x / ‖x‖), or g / eps where the norm
// was clamped, exactly as l2_normalize_backward (elementwise.cl).
__kernel void normalized_pair_rows(__global const float* p, __global const float* z,
                                   __global float* row_loss, __global float* dp, const int cols,
                                   const float eps, const int mode, const float grad_scale,
                                   const int loss_offset, __local float* scratch) {
    const int row = get_group_id(0);
    __global const float* pr = p + (long)row * cols;
    __global const float* zr = z + (long)row * cols;
    __global float* out = dp + (long)row * cols;
    float ssp = 0.0f, ssz = 0.0f;
    for (int j = get_local_id(0); j < cols; j += get_local_size(0)) {
        ssp += pr[j] * pr[j];
        ssz += zr[j] * zr[j];
    }
    ssp = group_sum(ssp, scratch);
    ssz = group_sum(ssz, scratch);
    const float norm_p = sqrt(ssp);
    const float inv_p = 1.0f / fmax(norm_p, eps), inv_z = 1.0f / fmax(sqrt(ssz), eps);

    // The loss term, and ⟨p̂, g⟩ for the normalisation's backward.
    float loss = 0.0f, proj = 0.0f;
    for (int j = get_local_id(0); j < cols; j += get_local_size(0)) {
        const float ph = pr[j] * inv_p, zh = zr[j] * inv_z;
        if (mode == PAIR_BYOL) {
            const float diff = ph - zh;
            loss += diff * diff;
            proj += ph * (2.0f * grad_scale * diff);
        } else {
            loss -= ph * zh;
            proj -= ph * (grad_scale * zh);
        }
    }
    loss = group_sum(loss, scratch);
    proj = group_sum(proj, scratch);

    const int clamped = norm_p <= eps;
    for (int j = get_local_id(0); j < cols; j += get_local_size(0)) {
        const float ph = pr[j] * inv_p, zh = zr[j] * inv_z;
        const float g = mode == PAIR_BYOL ? 2.0f * grad_scale * (ph - zh) : -grad_scale * zh;
        out[j] = clamped ? g / eps : (g - ph * proj) * inv_p;
    }
    if (get_local_id(0) == 0) row_loss[loss_offset + row] = loss;
}

// q = softmax((t − c) · inv_temp) per row, max-subtracted through the online log-sum-exp;
// c is one row of `cols` values shared by every row.
__kernel void dino_teacher_probs(__global const float* teacher, __global const float* center,
                                 __global float* q, const int cols, const float inv_temp,
                                 __local float* scratch) {
    const int row = get_group_id(0);
    __global const float* t = teacher + (long)row * cols;
    __global float* out = q + (long)row * cols;
    const float lse = row_logsumexp(t, center, cols, inv_temp, -1, scratch);
#ifdef ROWS_SERIAL
    int j = 0;
    for (; j + 8 <= cols; j += 8)
        vstore8(exp((vload8(0, t + j) - vload8(0, center + j)) * inv_temp - lse), 0, out + j);
    for (; j < cols; j++) out[j] = exp((t[j] - center[j]) * inv_temp - lse);
#else
    for (int j = get_local_id(0); j < cols; j += get_local_size(0)) out[j] = exp((t[j] - center[j]) * inv_temp - lse);
#endif
}
