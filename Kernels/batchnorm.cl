// Batch normalisation per channel of a tensor (N, C, …) viewed as (N, C, inner): BatchNorm1d on
// (N, F) (inner = 1), BatchNorm2d on (N, C, H, W) (inner = H·W). Over the M = N·inner values of
// channel c:
//   training:   mean_c = (1/M) Σ x,  var_c = (1/M) Σ (x − mean_c)²  (biased, two passes, no E[x²] − E[x]²);
//               running_mean ← (1 − m)·running_mean + m·mean_c,
//               running_var  ← (1 − m)·running_var + m·var_c·M/(M − 1)   (unbiased, as PyTorch);
//   evaluation: mean_c, var_c = the running statistics, unchanged;
//   x̂ = (x − mean_c)·rstd_c, rstd_c = 1/sqrt(var_c + eps), y = γ_c·x̂ + β_c.
// Backward (dβ_c = Σ dy, dγ_c = Σ dy·x̂):
//   training:   dx = γ_c·rstd_c·(dy − dβ_c/M − x̂·dγ_c/M),  evaluation: dx = γ_c·rstd_c·dy.
//
// Both kernels: one work-group per channel, local size 2^k, looping over (n, s) with s fastest,
// so neighbouring work-items read neighbouring addresses for images; for (N, F) they read one
// column at stride F. Without affine the host passes y and x̂ as one buffer. Sums in float.

#define BN_AFFINE 1
#define BN_TRAINING 2
#define BN_RUNNING 4
#define BN_ACCUMULATE 8

__kernel void batchnorm_forward(__global const float* x, __global float* y, __global float* xhat,
                                __global float* mean_out, __global float* rstd_out,
                                __global const float* gamma, __global const float* beta,
                                __global float* running_mean, __global float* running_var,
                                const int n, const int channels, const int inner, const float eps,
                                const float momentum, const int flags, __local float* scratch) {
    const int c = get_group_id(0), m = n * inner;
    float mean, var;
    if (flags & BN_TRAINING) {
        float acc = 0.0f;
        for (int j = get_local_id(0); j < m; j += get_local_size(0))
            acc += x[((long)(j / inner) * channels + c) * inner + j % inner];
        mean = group_sum(acc, scratch) / m;
        acc = 0.0f;
        for (int j = get_local_id(0); j < m; j += get_local_size(0)) {
            const float d = x[((long)(j / inner) * channels + c) * inner + j % inner] - mean;
            acc += d * d;
        }
        var = group_sum(acc, scratch) / m;
    } else {
        mean = running_mean[c];
        var = running_var[c];
    }
    const float rstd = rsqrt(var + eps);
    const float g = (flags & BN_AFFINE) ? gamma[c] : 1.0f, b = (flags & BN_AFFINE) ? beta[c] : 0.0f;
    for (int j = get_local_id(0); j < m; j += get_local_size(0)) {
        const long at = ((long)(j / inner) * channels + c) * inner + j % inner;
        const float v = (x[at] - mean) * rstd;
        xhat[at] = v;
        y[at] = g * v + b;
    }
    if (get_local_id(0) == 0) {
        mean_out[c] = mean;
        rstd_out[c] = rstd;
        if ((flags & BN_TRAINING) && (flags & BN_RUNNING)) {
            running_mean[c] = (1.0f - momentum) * running_mean[c] + momentum * mean;
            running_var[c] = (1.0f - momentum) * running_var[c] + momentum * var * ((float)m / (float)(m - 1));
        }
    }
}

__kernel void batchnorm_backward(__global const float* dy, __global const float* xhat, __global const float* rstd,
                                 __global const float* gamma, __global float* dx, __global float* dgamma,
                                 __global float* dbeta, const int n, const int channels, const int inner,
                                 const int flags, __local float* scratch) {
    const int c = get_group_id(0), m = n * inner;
    float sum_dy = 0.0f, sum_dy_xhat = 0.0f;
    for (int j = get_local_id(0); j < m; j += get_local_size(0)) {
        const long at = ((long)(j / inner) * channels + c) * inner + j % inner;
        sum_dy += dy[at];
        sum_dy_xhat += dy[at] * xhat[at];
    }
    sum_dy = group_sum(sum_dy, scratch);
    sum_dy_xhat = group_sum(sum_dy_xhat, scratch);
    const float scale = ((flags & BN_AFFINE) ? gamma[c] : 1.0f) * rstd[c];
    const float mean_dy = sum_dy / m, mean_dy_xhat = sum_dy_xhat / m;
    for (int j = get_local_id(0); j < m; j += get_local_size(0)) {
        const long at = ((long)(j / inner) * channels + c) * inner + j % inner;
        dx[at] = (flags & BN_TRAINING) ? scale * (dy[at] - mean_dy - xhat[at] * mean_dy_xhat) : scale * dy[at];
    }
    if (get_local_id(0) == 0 && (flags & BN_ACCUMULATE)) {
        dgamma[c] += sum_dy_xhat;
        dbeta[c] += sum_dy;
    }
}
