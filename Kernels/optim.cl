// Optimizer updates, in place: SGD (torch.optim.SGD), LARS (Barlow Twins' official class),
// AdamW (torch.optim.AdamW), and the L2 norms LARS and gradient clipping need.
//
// sgd_update:     one work-item per element. d_p = g + wd·p; buf = μ·buf + d_p; p −= lr·(nesterov ?
//                 d_p + μ·buf : buf). With dampening 0, torch's first step (buf = clone(d_p)) equals
//                 μ·0 + d_p, so a zero-initialised buffer needs no first-step flag.
// lars_partials:  G work-groups of 2^k work-items, each striding over the tensor; group g writes
//                 Σp² to partials[g] and Σ(g + wd·p)² to partials[G + g] (a (2, G) tensor).
// square_partials: the same for Σx² of one tensor, into partials[offset + g], so several tensors
//                 share one partials row (the global norm of clip_grad_norm_).
// norms_finish:   one work-group per row of partials (R, G): out[r] = sqrt(Σ_g partials[r, g]).
// lars_update:    one work-item per element; reads (‖p‖, ‖dp‖) from norms_finish on the same queue:
//                 q = (‖p‖ > 0 && ‖dp‖ > 0) ? η‖p‖/‖dp‖ : 1;  mu = μ·mu + q·dp;  p −= lr·mu.
// adamw_update:   one work-item per element; bias corrections come from the host in double.
// clip_scale:     one work-item per element; x *= c where c = max/(‖·‖ + 1e-6) < 1, else unchanged.
//
// Assumes local sizes are powers of two (group_sum in common.cl).

__kernel void sgd_update(__global float* p, __global const float* g, __global float* buf, const int count,
                         const float lr, const float momentum, const float weight_decay, const int nesterov) {
    const int i = get_global_id(0);
    if (i >= count) return;
    const float d_p = g[i] + weight_decay * p[i];
    const float b = momentum * buf[i] + d_p;
    buf[i] = b;
    p[i] -= lr * (nesterov ? d_p + momentum * b : b);
}

__kernel void lars_partials(__global const float* p, __global const float* g, const int count,
                            const float weight_decay, __global float* partials, __local float* scratch) {
    const int groups = get_num_groups(0);
    float pp = 0.0f, dd = 0.0f;
    for (int i = get_global_id(0); i < count; i += get_global_size(0)) {
        const float d = g[i] + weight_decay * p[i];
        pp += p[i] * p[i];
        dd += d * d;
    }
    pp = group_sum(pp, scratch);
    dd = group_sum(dd, scratch);
    if (get_local_id(0) == 0) {
        partials[get_group_id(0)] = pp;
        partials[groups + get_group_id(0)] = dd;
    }
}

__kernel void square_partials(__global const float* x, const int count, __global float* partials,
                              const int offset, __local float* scratch) {
    float ss = 0.0f;
    for (int i = get_global_id(0); i < count; i += get_global_size(0)) ss += x[i] * x[i];
    ss = group_sum(ss, scratch);
    if (get_local_id(0) == 0) partials[offset + get_group_id(0)] = ss;
}

__kernel void norms_finish(__global const float* partials, const int groups, __global float* out,
                           __local float* scratch) {
    const int row = get_group_id(0);
    float s = 0.0f;
    for (int j = get_local_id(0); j < groups; j += get_local_size(0)) s += partials[(long)row * groups + j];
    s = group_sum(s, scratch);
    if (get_local_id(0) == 0) out[row] = sqrt(s);
}

__kernel void lars_update(__global float* p, __global const float* g, __global float* mu, const int count,
                          const float lr, const float momentum, const float weight_decay, const float eta,
                          __global const float* norms) {
    const int i = get_global_id(0);
    if (i >= count) return;
    const float p_norm = norms[0], d_norm = norms[1];
    const float q = (p_norm > 0.0f && d_norm > 0.0f) ? eta * p_norm / d_norm : 1.0f;
    const float m = momentum * mu[i] + (g[i] + weight_decay * p[i]) * q;
    mu[i] = m;
    p[i] -= lr * m;
}

// decay = 1 − lr·wd; step_size = lr / (1 − β1^t); bc2_sqrt = sqrt(1 − β2^t); and 1 − β1, 1 − β2
// from the host in double: 1 − 0.999f in float32 would lose five digits of 1 − β2 (as torch, which
// passes them as Python floats).
__kernel void adamw_update(__global float* p, __global const float* g, __global float* m, __global float* v,
                           const int count, const float decay, const float one_minus_beta1, const float beta2,
                           const float one_minus_beta2, const float eps, const float step_size,
                           const float bc2_sqrt) {
    const int i = get_global_id(0);
    if (i >= count) return;
    const float gi = g[i];
    const float mi = m[i] + one_minus_beta1 * (gi - m[i]);  // torch's exp_avg.lerp_(grad, 1 − β1)
    const float vi = beta2 * v[i] + one_minus_beta2 * gi * gi;
    m[i] = mi;
    v[i] = vi;
    p[i] = p[i] * decay - step_size * mi / (sqrt(vi) / bc2_sqrt + eps);
}

__kernel void clip_scale(__global float* x, const int count, __global const float* norm, const float max_norm) {
    const int i = get_global_id(0);
    if (i >= count) return;
    const float c = max_norm / (norm[0] + 1e-6f);
    if (c < 1.0f) x[i] *= c;
}
