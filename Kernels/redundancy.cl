// Kernels of the redundancy-reduction objectives, Barlow Twins and VICReg (formulas and
// derivations in Sources/SSLCore/Losses/BarlowTwins.swift and VICReg.swift). Batch norm and the
// GEMMs between these kernels are the library's batchnorm_forward/_backward (batchnorm.cl) and CLBlast.
//
// barlow_dc:                  one work-group per row i of C (D×D), local size 2^k: dC's row i and
//                             row i's share of the loss (the host sums the D shares, sum_rows).
// vicreg_columns:             one work-item per feature: centred columns, unbiased σ, the feature's
//                             shares of the invariance and variance terms and its σ gradient factor.
// vicreg_offdiag:             one work-group per row i of K1 and K2 (D×D), local size 2^k: zeroes
//                             their diagonals in place and writes row i's share of the covariance term.
// vicreg_gradient:            one work-item per element: the invariance and variance terms of dZ1
//                             and dZ2; the covariance term is a GEMM accumulated on top (beta = 1).
// vicreg_loss:                a single work-group, local size 2^k: the three sums, the unweighted
//                             parts and the weighted loss.
// All sums accumulate in float; the host checks N ≥ 2 before launching.

// L = Σ_i (1 − C_ii)² + λ Σ_{i≠j} C_ij²:  dC_ii = 2 (C_ii − 1),  dC_ij = 2 λ C_ij.
__kernel void barlow_dc(__global const float* c, __global float* dc, __global float* row_loss,
                        const int d, const float lambda, __local float* scratch) {
    const int i = get_group_id(0);
    __global const float* row = c + (long)i * d;
    __global float* out = dc + (long)i * d;
    float acc = 0.0f;
    for (int j = get_local_id(0); j < d; j += get_local_size(0)) {
        const float v = row[j];
        if (j == i) {
            acc += (1.0f - v) * (1.0f - v);
            out[j] = 2.0f * (v - 1.0f);
        } else {
            acc += lambda * v * v;
            out[j] = 2.0f * lambda * v;
        }
    }
    const float total = group_sum(acc, scratch);
    if (get_local_id(0) == 0) row_loss[i] = total;
}

// Centres column `col` of z into xc; returns σ = sqrt(Σ_n x̄² / (N − 1) + eps) (two passes).
inline float vicreg_centre_column(__global const float* z, __global float* xc, const int col,
                                  const int n, const int d, const float eps) {
    float mean = 0.0f;
    for (int i = 0; i < n; ++i) mean += z[(long)i * d + col];
    mean /= n;
    float sq = 0.0f;
    for (int i = 0; i < n; ++i) {
        const long at = (long)i * d + col;
        const float c = z[at] - mean;
        xc[at] = c;
        sq += c * c;
    }
    return sqrt(sq / (n - 1) + eps);
}

// ∂v/∂z_nj = std_grad_j · x̄_nj with std_grad_j = −[σ_j < 1] / (2D (N − 1) σ_j): relu(1 − σ)'s
// subgradient is 0 at the kink, as in PyTorch.
inline float vicreg_std_grad(const float sigma, const int n, const int d) {
    return sigma < 1.0f ? -1.0f / (2.0f * d * (n - 1) * sigma) : 0.0f;
}

// partials (3, D): row 0 Σ_n (z1 − z2)², row 1 relu(1 − σ1) + relu(1 − σ2), row 2 (vicreg_offdiag).
// std_grad (2, D): the σ gradient factors of z1 and z2.
__kernel void vicreg_columns(__global const float* z1, __global const float* z2,
                             __global float* xc1, __global float* xc2, __global float* partials,
                             __global float* std_grad, const int n, const int d, const float eps) {
    const int col = get_global_id(0);
    if (col >= d) return;
    float sq = 0.0f;
    for (int i = 0; i < n; ++i) {
        const float diff = z1[(long)i * d + col] - z2[(long)i * d + col];
        sq += diff * diff;
    }
    const float sigma1 = vicreg_centre_column(z1, xc1, col, n, d, eps);
    const float sigma2 = vicreg_centre_column(z2, xc2, col, n, d, eps);
    partials[col] = sq;
    partials[d + col] = fmax(1.0f - sigma1, 0.0f) + fmax(1.0f - sigma2, 0.0f);
    std_grad[col] = vicreg_std_grad(sigma1, n, d);
    std_grad[d + col] = vicreg_std_grad(sigma2, n, d);
}

// K1, K2 (D×D) become offdiag(K1), offdiag(K2); partials[2D + i] = Σ_{j≠i} K1_ij² + K2_ij².
__kernel void vicreg_offdiag(__global float* k1, __global float* k2, __global float* partials,
                             const int d, __local float* scratch) {
    const int i = get_group_id(0);
    __global float* r1 = k1 + (long)i * d;
    __global float* r2 = k2 + (long)i * d;
    float acc = 0.0f;
    for (int j = get_local_id(0); j < d; j += get_local_size(0)) {
        if (j == i) {
            r1[j] = 0.0f;
            r2[j] = 0.0f;
        } else {
            acc += r1[j] * r1[j] + r2[j] * r2[j];
        }
    }
    const float total = group_sum(acc, scratch);
    if (get_local_id(0) == 0) partials[2 * d + i] = total;
}

// dZ1 = sim_scale (z1 − z2) + std_coeff · std_grad1 ⊙ x̄1,  dZ2 = −sim_scale (z1 − z2) + … ,
// sim_scale = 2 sim / (N·D).
__kernel void vicreg_gradient(__global const float* z1, __global const float* z2,
                              __global const float* xc1, __global const float* xc2,
                              __global const float* std_grad, __global float* dz1, __global float* dz2,
                              const int count, const int d, const float sim_scale, const float std_coeff) {
    const int gid = get_global_id(0);
    if (gid >= count) return;
    const int col = gid % d;
    const float invariance = sim_scale * (z1[gid] - z2[gid]);
    dz1[gid] = invariance + std_coeff * std_grad[col] * xc1[gid];
    dz2[gid] = -invariance + std_coeff * std_grad[d + col] * xc2[gid];
}

// parts = [Σ row 0 / (N·D), Σ row 1 / (2D), Σ row 2 / D];  loss = sim·parts0 + std·parts1 + cov·parts2.
__kernel void vicreg_loss(__global const float* partials, __global float* parts, __global float* loss,
                          const int n, const int d, const float sim, const float std_coeff,
                          const float cov, __local float* scratch) {
    float s = 0.0f, v = 0.0f, c = 0.0f;
    for (int j = get_local_id(0); j < d; j += get_local_size(0)) {
        s += partials[j];
        v += partials[d + j];
        c += partials[2 * d + j];
    }
    s = group_sum(s, scratch) / ((float)n * d);
    v = group_sum(v, scratch) / (2.0f * d);
    c = group_sum(c, scratch) / d;
    if (get_local_id(0) == 0) {
        parts[0] = s;
        parts[1] = v;
        parts[2] = c;
        loss[0] = sim * s + std_coeff * v + cov * c;
    }
}
