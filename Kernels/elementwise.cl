// Element-wise kernels; one work-item per element.

__kernel void scale_add(__global const float* x, __global float* y, const int count,
                        const float alpha, const float beta) {
    // y = alpha·x + beta·y
    const int gid = get_global_id(0);
    if (gid < count) y[gid] = alpha * x[gid] + beta * y[gid];
}
