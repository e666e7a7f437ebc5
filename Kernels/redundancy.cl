// Kernels of the redundancy-reduction objectives, Barlow Twins and VICReg (formulas and
// derivations in Sources/SSLCore/Losses/BarlowTwins.swift, VICReg.swift and RedundancyForm.swift).
// Batch norm and the GEMMs between these kernels are the library's batchnorm_forward/_backward
// (batchnorm.cl) and CLBlast. Each loss has two forms: through its D×D matrix (C or K), or,
// when N < D, through the batch's N×N Gram matrices G = AAᵀ, using ‖AᵀB‖²_F = ⟨AAᵀ, BBᵀ⟩_F.
//
// D×D form:
// barlow_dc:             one work-group per row i of C (D×D), local size 2^k: dC's row i and
//                        row i's share of the loss (the host sums the D shares, sum_rows).
// vicreg_offdiag:        one work-group per row i of K1 and K2 (D×D), local size 2^k: zeroes
//                        their diagonals in place and writes row i's share of the covariance term.
// Gram form:
// barlow_gram_diagonal:  one work-item per feature (coalesced across features): C's diagonal
//                        c_j = ⟨Y1[:, j], Y2[:, j]⟩/N, the diagonal share of dY1 and dY2, and
//                        feature j's share of the loss.
// barlow_gram_rows,      one work-group per row r of the two N×N Gram matrices, local size 2^k:
// vicreg_gram_rows:      row r's share of ⟨G1, G2⟩ (Barlow Twins) or ‖G1‖² + ‖G2‖² (VICReg).
// barlow_gram_loss:      a single work-group, local size 2^k: the two sums and the loss.
// Both forms:
// vicreg_columns:        one work-item per feature: centred columns, unbiased variance and σ, the
//                        feature's shares of the invariance and variance terms, its σ gradient factor.
// vicreg_gradient:       one work-item per element: the invariance and variance terms of dZ1
//                        and dZ2 (and, in the Gram form, the covariance's diagonal correction);
//                        the rest of the covariance term is a GEMM accumulated on top (beta = 1).
// vicreg_loss:           a single work-group, local size 2^k: the three sums, the unweighted
//                        parts and the weighted loss.
// All sums accumulate in float; the host checks N ≥ 2 before launching.

// Barlow Twins, D×D form.

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

// Barlow Twins, Gram form.

// c_j = Σ_n Y1_nj Y2_nj / N and δ_j = 2 (c_j − 1) − 2λ c_j: dL/dC_jj less the 2λ C_jj that the Gram
// GEMMs carry. Writes dY1[:, j] = δ_j Y2[:, j] / N and dY2[:, j] = δ_j Y1[:, j] / N, onto which the
// host adds (2λ/N²) G2 Y1 and (2λ/N²) G1 Y2, and column_loss[j] = (1 − c_j)² − λ c_j².
__kernel void barlow_gram_diagonal(__global const float* y1, __global const float* y2, __global float* dy1,
                                   __global float* dy2, __global float* column_loss, const int n, const int d,
                                   const float lambda) {
    const int col = get_global_id(0);
    if (col >= d) return;
    float dot = 0.0f;
    for (int r = 0; r < n; ++r) dot += y1[(long)r * d + col] * y2[(long)r * d + col];
    const float c = dot / n;
    const float scale = (2.0f * (c - 1.0f) - 2.0f * lambda * c) / n;
    for (int r = 0; r < n; ++r) {
        const long at = (long)r * d + col;
        dy1[at] = scale * y2[at];
        dy2[at] = scale * y1[at];
    }
    column_loss[col] = (1.0f - c) * (1.0f - c) - lambda * c * c;
}

// row_share[r] = Σ_m G1_rm G2_rm, so that Σ_r row_share[r] = ⟨G1, G2⟩_F = N² ‖C‖²_F.
__kernel void barlow_gram_rows(__global const float* g1, __global const float* g2, __global float* row_share,
                               const int n, __local float* scratch) {
    const int r = get_group_id(0);
    __global const float* a = g1 + (long)r * n;
    __global const float* b = g2 + (long)r * n;
    float acc = 0.0f;
    for (int m = get_local_id(0); m < n; m += get_local_size(0)) acc += a[m] * b[m];
    const float total = group_sum(acc, scratch);
    if (get_local_id(0) == 0) row_share[r] = total;
}

// L = Σ_j column_loss[j] + (λ/N²) Σ_r row_share[r] = Σ_j [(1 − c_j)² − λ c_j²] + λ ‖C‖²_F.
__kernel void barlow_gram_loss(__global const float* column_loss, __global const float* row_share,
                               __global float* loss, const int n, const int d, const float lambda_over_n2,
                               __local float* scratch) {
    float diagonal = 0.0f, squares = 0.0f;
    for (int j = get_local_id(0); j < d; j += get_local_size(0)) diagonal += column_loss[j];
    for (int r = get_local_id(0); r < n; r += get_local_size(0)) squares += row_share[r];
    diagonal = group_sum(diagonal, scratch);
    squares = group_sum(squares, scratch);
    if (get_local_id(0) == 0) loss[0] = diagonal + lambda_over_n2 * squares;
}

// VICReg.

// Centres column `col` of z into xc; returns the unbiased variance K_jj = Σ_n x̄² / (N − 1)
// (two passes, no E[x²] − E[x]²).
static inline float vicreg_centre_column(__global const float* z, __global float* xc, const int col,
                                         const int n, const int d) {
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
    return sq / (n - 1);
}

// ∂v/∂z_nj = std_grad_j · x̄_nj with std_grad_j = −[σ_j < 1] / (2D (N − 1) σ_j): relu(1 − σ)'s
// subgradient is 0 at the kink, as in PyTorch.
static inline float vicreg_std_grad(const float sigma, const int n, const int d) {
    return sigma < 1.0f ? -1.0f / (2.0f * d * (n - 1) * sigma) : 0.0f;
}

// partials (3, D): row 0 Σ_n (z1 − z2)², row 1 relu(1 − σ1) + relu(1 − σ2), row 2 −(K1_jj² + K2_jj²),
// the diagonal the Gram form subtracts from ‖K‖²_F (the D×D form's vicreg_offdiag overwrites it).
// std_grad (2, D): the σ gradient factors of z1 and z2. variance (2, D): K1_jj and K2_jj.
__kernel void vicreg_columns(__global const float* z1, __global const float* z2,
                             __global float* xc1, __global float* xc2, __global float* partials,
                             __global float* std_grad, __global float* variance, const int n, const int d,
                             const float eps) {
    const int col = get_global_id(0);
    if (col >= d) return;
    float sq = 0.0f;
    for (int i = 0; i < n; ++i) {
        const float diff = z1[(long)i * d + col] - z2[(long)i * d + col];
        sq += diff * diff;
    }
    const float var1 = vicreg_centre_column(z1, xc1, col, n, d);
    const float var2 = vicreg_centre_column(z2, xc2, col, n, d);
    const float sigma1 = sqrt(var1 + eps), sigma2 = sqrt(var2 + eps);
    partials[col] = sq;
    partials[d + col] = fmax(1.0f - sigma1, 0.0f) + fmax(1.0f - sigma2, 0.0f);
    partials[2 * d + col] = -(var1 * var1 + var2 * var2);
    std_grad[col] = vicreg_std_grad(sigma1, n, d);
    std_grad[d + col] = vicreg_std_grad(sigma2, n, d);
    variance[col] = var1;
    variance[d + col] = var2;
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

// dZ1 = sim_scale (z1 − z2) + (std_coeff · std_grad1 − diag_scale · K1_jj) ⊙ x̄1,  dZ2 = −sim_scale (z1 − z2) + … ,
// sim_scale = 2 sim / (N·D). diag_scale is 0 in the D×D form, whose GEMM takes x̄ · offdiag(K); the
// Gram form's GEMM takes x̄ K = G x̄ / (N − 1), and −diag_scale K_jj x̄ removes the diagonal's share.
__kernel void vicreg_gradient(__global const float* z1, __global const float* z2,
                              __global const float* xc1, __global const float* xc2,
                              __global const float* std_grad, __global const float* variance,
                              __global float* dz1, __global float* dz2, const int count, const int d,
                              const float sim_scale, const float std_coeff, const float diag_scale) {
    const int gid = get_global_id(0);
    if (gid >= count) return;
    const int col = gid % d;
    const float invariance = sim_scale * (z1[gid] - z2[gid]);
    dz1[gid] = invariance + (std_coeff * std_grad[col] - diag_scale * variance[col]) * xc1[gid];
    dz2[gid] = -invariance + (std_coeff * std_grad[d + col] - diag_scale * variance[d + col]) * xc2[gid];
}

// parts = [Σ row 0 / (N·D), Σ row 1 / (2D), (Σ row 2 + gram_scale Σ gram_rows) / D];
// loss = sim·parts0 + std·parts1 + cov·parts2. The D×D form passes gram_count 0; the Gram form
// passes ‖G1‖² + ‖G2‖² by rows and gram_scale = 1/(N − 1)², so that parts2 = (‖K1‖² + ‖K2‖² − Σ_j K_jj²)/D.
__kernel void vicreg_loss(__global const float* partials, __global const float* gram_rows,
                          __global float* parts, __global float* loss, const int n, const int d,
                          const int gram_count, const float gram_scale, const float sim,
                          const float std_coeff, const float cov, __local float* scratch) {
    float s = 0.0f, v = 0.0f, c = 0.0f, g = 0.0f;
    for (int j = get_local_id(0); j < d; j += get_local_size(0)) {
        s += partials[j];
        v += partials[d + j];
        c += partials[2 * d + j];
    }
    for (int r = get_local_id(0); r < gram_count; r += get_local_size(0)) g += gram_rows[r];
    s = group_sum(s, scratch) / ((float)n * d);
    v = group_sum(v, scratch) / (2.0f * d);
    c = (group_sum(c, scratch) + gram_scale * group_sum(g, scratch)) / d;
    if (get_local_id(0) == 0) {
        parts[0] = s;
        parts[1] = v;
        parts[2] = c;
        loss[0] = sim * s + std_coeff * v + cov * c;
    }
}

// ‖G1‖² + ‖G2‖² by rows: row_share[r] = Σ_m G1_rm² + G2_rm², G = x̄x̄ᵀ (N×N), so that
// Σ_r row_share[r] = (N − 1)² (‖K1‖²_F + ‖K2‖²_F).
__kernel void vicreg_gram_rows(__global const float* g1, __global const float* g2, __global float* row_share,
                               const int n, __local float* scratch) {
    const int r = get_group_id(0);
    __global const float* a = g1 + (long)r * n;
    __global const float* b = g2 + (long)r * n;
    float acc = 0.0f;
    for (int m = get_local_id(0); m < n; m += get_local_size(0)) acc += a[m] * a[m] + b[m] * b[m];
    const float total = group_sum(acc, scratch);
    if (get_local_id(0) == 0) row_share[r] = total;
}
