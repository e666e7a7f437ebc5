// Batch normalisation along the batch (training mode, no affine):
//   mean_d = (1/N) Σ_n x_nd,  var_d = (1/N) Σ_n (x_nd − mean_d)²  (biased),
//   y_nd = (x_nd − mean_d) · rstd_d,  rstd_d = 1 / sqrt(var_d + eps).
//
// batchnorm_columns: one work-item per feature d, looping over the batch; neighbouring
// work-items read neighbouring columns, so every load is coalesced. Two passes over x for the
// variance (no E[x²] − E[x]² cancellation).

__kernel void batchnorm_columns(__global const float* x, __global float* y, __global float* mean_out,
                                __global float* rstd_out, const int n, const int d, const float eps) {
    const int col = get_global_id(0);
    if (col >= d) return;
    float sum = 0.0f;
    for (int i = 0; i < n; ++i) sum += x[(long)i * d + col];
    const float mean = sum / n;
    float sq = 0.0f;
    for (int i = 0; i < n; ++i) {
        const float c = x[(long)i * d + col] - mean;
        sq += c * c;
    }
    const float rstd = rsqrt(sq / n + eps);
    for (int i = 0; i < n; ++i) y[(long)i * d + col] = (x[(long)i * d + col] - mean) * rstd;
    mean_out[col] = mean;
    rstd_out[col] = rstd;
}
