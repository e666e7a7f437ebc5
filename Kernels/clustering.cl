// Kernels of the clustering objectives (Sources/SSLCore/Losses/SwAV.swift, DeepCluster.swift,
// SeLA.swift); the host side is Sources/SSLCore/OpenCL/OpenCLBackend+{Clustering,SwAV,DeepCluster,SeLA}.swift.
// SwAV needs none of its own: GEMM, Sinkhorn, soft cross-entropy and buffer copies do it all.
//
// kmeans_assign: one work-group per row of a block G = X_b·Cᵀ: the nearest centroid
//                argmin_k (‖c_k‖² − 2 G_nk), lowest k on ties, and its squared distance
//                max(‖x_n‖² + min, 0) (the clamp absorbs float cancellation of the expansion).
// one_hot:       one work-item per element of a (rows, K) block: 1 where k = labels[offset + row].
// gather_rows:   one work-item per element: out[i, :] = x[index[i], :].
// kmeans_divide: one work-item per centroid element: sum / count; 0 for an empty cluster.
// kmeans_split:  ONE work-group: re-seeds the empty clusters in index order by splitting the
//                largest cluster (faiss split_clusters with a deterministic choice). Sequential
//                by nature, as each split changes the counts the next one reads; empty clusters
//                are rare, so the cost is K reads of a count per launch.
// rows_argmax:   one work-group per row: argmax, lowest index on ties (np.nanargmax).
// sela_change:   ONE work-group: SeLA's stopping statistic Σ_n |exp(β_old,n − β_n) − 1| = Σ |c/c_new − 1|.
//
// Labels, assignments and row indices are int32 buffers. Local sizes are powers of two.

#ifndef SPLIT_EPS
#define SPLIT_EPS (1.0f / 1024.0f)  // faiss Clustering.cpp EPS: "a bit above machine epsilon for float16"
#endif

// Arg-max across the group of each work-item's (value, index); ties go to the lowest index.
// Writes the winning value to *best_value (every work-item gets it).
static inline int group_argmax(float value, int index, __local float* values, __local int* indices, float* best_value) {
    const int lid = get_local_id(0);
    values[lid] = value;
    indices[lid] = index;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int stride = get_local_size(0) / 2; stride > 0; stride >>= 1) {
        if (lid < stride) {
            const float v = values[lid + stride];
            const int i = indices[lid + stride];
            if (v > values[lid] || (v == values[lid] && i < indices[lid])) {
                values[lid] = v;
                indices[lid] = i;
            }
        }
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    const int best = indices[0];
    *best_value = values[0];
    barrier(CLK_LOCAL_MEM_FENCE);  // the arrays may be reused right after
    return best;
}


__kernel void kmeans_assign(__global const float* gram, __global const float* c_norms, __global const float* x_norms,
                            __global int* assignments, __global float* distances, const int k_count,
                            const int row_offset, __local float* values, __local int* indices) {
    const int r = get_group_id(0);
    __global const float* row = gram + (long)r * k_count;
    // Maximise 2x·c − ‖c‖² = ‖x‖² − ‖x − c‖²; a strict > keeps each item's lowest k.
    float best = -INFINITY;
    int best_k = INT_MAX;
    for (int k = get_local_id(0); k < k_count; k += get_local_size(0)) {
        const float v = 2.0f * row[k] - c_norms[k];
        if (v > best) { best = v; best_k = k; }
    }
    float top;
    const int k = group_argmax(best, best_k, values, indices, &top);
    if (get_local_id(0) == 0) {
        const int n = row_offset + r;
        assignments[n] = k;
        distances[n] = fmax(x_norms[n] - top, 0.0f);
    }
}

__kernel void one_hot(__global const int* labels, __global float* out, const int rows, const int k_count,
                      const int row_offset) {
    const int gid = get_global_id(0);
    if (gid >= rows * k_count) return;
    out[gid] = labels[row_offset + gid / k_count] == gid % k_count ? 1.0f : 0.0f;
}

__kernel void gather_rows(__global const float* x, __global const int* index, __global float* out, const int rows,
                          const int cols) {
    const int gid = get_global_id(0);
    if (gid >= rows * cols) return;
    out[gid] = x[(long)index[gid / cols] * cols + gid % cols];
}

__kernel void kmeans_divide(__global const float* sums, __global const float* counts, __global float* centroids,
                            const int k_count, const int cols) {
    const int gid = get_global_id(0);
    if (gid >= k_count * cols) return;
    const float count = counts[gid / cols];
    centroids[gid] = count > 0.0f ? sums[gid] / count : 0.0f;
}

__kernel void kmeans_split(__global float* centroids, __global float* counts, const int k_count, const int cols,
                           __local float* values, __local int* indices) {
    const int lid = get_local_id(0), size = get_local_size(0);
    for (int ci = 0; ci < k_count; ++ci) {
        // Every work-item reads the same count (item 0's writes are fenced below): a uniform branch.
        if (counts[ci] != 0.0f) continue;
        float best = -INFINITY;
        int best_k = INT_MAX;
        for (int k = lid; k < k_count; k += size) {
            if (counts[k] > best) { best = counts[k]; best_k = k; }
        }
        const int cj = group_argmax(best, best_k, values, indices, &best);
        // group_argmax's barriers fence local memory only: order every item's reads of counts
        // before item 0 rewrites two of them (Oclgrind reported the read-write race).
        barrier(CLK_GLOBAL_MEM_FENCE);
        // c_i = c_j ⊙ (1 + e), c_j ⊙= (1 − e), e = ±EPS alternating by feature.
        for (int f = lid; f < cols; f += size) {
            const float c = centroids[(long)cj * cols + f];
            const float e = (f % 2 == 0) ? SPLIT_EPS : -SPLIT_EPS;
            centroids[(long)ci * cols + f] = c * (1.0f + e);
            centroids[(long)cj * cols + f] = c * (1.0f - e);
        }
        if (lid == 0) {
            const float share = counts[cj] / 2.0f;
            counts[ci] = share;
            counts[cj] -= share;
        }
        barrier(CLK_GLOBAL_MEM_FENCE);
    }
}

__kernel void rows_argmax(__global const float* x, __global int* out, const int cols, __local float* values,
                          __local int* indices) {
    const int r = get_group_id(0);
    __global const float* row = x + (long)r * cols;
    float best = -INFINITY;
    int best_k = INT_MAX;
    for (int k = get_local_id(0); k < cols; k += get_local_size(0)) {
        if (row[k] > best) { best = row[k]; best_k = k; }
    }
    float top;
    const int k = group_argmax(best, best_k, values, indices, &top);
    if (get_local_id(0) == 0) out[r] = k;
}

__kernel void sela_change(__global const float* beta_old, __global const float* beta, __global float* out,
                          const int n, __local float* scratch) {
    float s = 0.0f;
    for (int i = get_local_id(0); i < n; i += get_local_size(0)) s += fabs(exp(beta_old[i] - beta[i]) - 1.0f);
    const float total = group_sum(s, scratch);
    if (get_local_id(0) == 0) out[0] = total;
}
